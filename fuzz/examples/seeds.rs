//! Writes every target's seeds to `fuzz/seeds/<target>/` (or the folder given), from the
//! real test vectors and samples: `cargo run --manifest-path fuzz/Cargo.toml --example seeds`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let vectors = fuzz.join("../crates/hookfeed-core/tests/vectors");
    let out = std::env::args().nth(1).map_or_else(|| fuzz.join("seeds"), PathBuf::from);
    for target in hookfeed_fuzz::TARGETS {
        let dir = out.join(target.name);
        std::fs::create_dir_all(&dir)?;
        let seeds = hookfeed_fuzz::seeds(target.name, &vectors);
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:03}")), seed)?;
        }
        println!("{:<28} {} seeds", target.name, seeds.len());
    }
    Ok(())
}
