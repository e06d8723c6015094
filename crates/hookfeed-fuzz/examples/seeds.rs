//! Writes every target's seeds to `fuzz/seeds/<target>/` (or the folder given), from the
//! real test vectors and samples: `cargo run -p hookfeed-fuzz --example seeds`.

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let crates = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let vectors = crates.join("hookfeed-core/tests/vectors");
    let out = std::env::args().nth(1).map_or_else(|| crates.join("../fuzz/seeds"), PathBuf::from);
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
