// hookfeed/server as a backend uses it (web/server.d.ts), checked by tests/types.test.mjs.
import { createToken, type CreateTokenOptions } from "hookfeed/server";

declare const process: { env: Record<string, string | undefined> };

async function tokenFor(userId: string): Promise<string> {
  return createToken({
    tenant: "demo",
    scopes: [`users/${userId}`, "projects/*"],
    sub: userId,
    expiresIn: "15m",
    secret: process.env.TOKEN_SECRET ?? "",
  });
}

// Owner scopes: the user's own projects (where user_id == sub), no path scopes needed.
const owned: Promise<string> = createToken({ tenant: "demo", sub: "alice", owner: { projects: "user_id" }, secret: "s" });

const options: CreateTokenOptions = { tenant: "demo", scopes: ["*"], secret: "s", expiresIn: 900, now: Date.now() };
const pending: Promise<string> = createToken(options);
void tokenFor;
void pending;
void owned;
