/**
 * GET /ovirt-engine/api/metrics: the engine's figures in the Prometheus text format (api/metrics.ts),
 * for a Prometheus server scraping with Basic credentials or an SSO bearer token of a user who
 * holds an administrative role on the whole system (permissions/needs.ts).
 */
import type { Call, Reply } from "../call.js";
import { scrape } from "../metrics.js";

export async function get(c: Call): Promise<Reply> {
  return { status: 200, raw: await scrape(c.engine) };
}
