// hookfeed/server: mint subscriber tokens in your backend (Node >= 20, Workers, Deno, Bun).

/** What a subscriber token grants. */
export interface CreateTokenOptions {
  /** The feed (tenant) the token reads. */
  tenant: string;
  /** The paths it may listen to: `projects/42`, `projects/*` (a collection), or `*`. Default none. */
  scopes?: string[];
  /** Your user's id, carried as the JWT's `sub`. */
  sub?: string;
  /**
   * Owner scopes: collection → the field holding the owner's id. `{ projects: "user_id" }`
   * grants the documents of `projects` whose `user_id` equals `sub` (queries must filter
   * `where("user_id", "==", sub)`; other documents look like ones that do not exist).
   */
  owner?: Record<string, string>;
  /** How long the token lives: seconds, or `"30s"`, `"15m"`, `"2h"`, `"7d"`. Default 15 minutes. */
  expiresIn?: number | `${number}${"s" | "m" | "h" | "d"}`;
  /** The edge's TOKEN_SECRET (during a rotation, `new,old`: the first signs). */
  secret: string;
  /** Now, in milliseconds since the epoch (for tests). Default `Date.now()`. */
  now?: number;
}

/** Mints a subscriber token: a JWT signed with HS256, as any JWT library would. */
export function createToken(options: CreateTokenOptions): Promise<string>;
