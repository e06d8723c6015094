import { DurableObject } from "cloudflare:workers";
export class T extends DurableObject {
  async fetch(req) {
    const s = this.ctx.storage;
    s.sql.exec("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY)");
    s.sql.exec("DELETE FROM t");
    const log = [];
    try {
      s.transactionSync(() => {
        s.sql.exec("INSERT INTO t VALUES ('outer-a')");
        try {
          s.transactionSync(() => {
            s.sql.exec("INSERT INTO t VALUES ('inner-rolled-back')");
            throw new Error("inner throw");
          });
        } catch (e) { log.push("inner caught: " + e.message); }
        s.transactionSync(() => { s.sql.exec("INSERT INTO t VALUES ('inner-ok')"); });
        s.sql.exec("INSERT INTO t VALUES ('outer-b')");
      });
    } catch (e) { log.push("outer failed: " + e.message); }
    const rows = [...s.sql.exec("SELECT k FROM t ORDER BY k")].map(r => r.k);
    // outer rollback after inner commit
    s.sql.exec("DELETE FROM t");
    try {
      s.transactionSync(() => {
        s.transactionSync(() => { s.sql.exec("INSERT INTO t VALUES ('inner-of-failed-outer')"); });
        throw new Error("outer throw");
      });
    } catch (e) { log.push("outer2 caught: " + e.message); }
    const rows2 = [...s.sql.exec("SELECT k FROM t ORDER BY k")].map(r => r.k);
    return Response.json({ log, rows, rows2 });
  }
}
export default { fetch(req, env) { return env.T.get(env.T.idFromName("x")).fetch(req); } };
