/** /jobs and their steps: read-only views of command execution. */
import type { Job } from "../../db/schema.js";
import { type Call, ok, pathId, type Reply } from "../call.js";
import { notFound } from "../../errors/fault.js";
import { collection } from "../repr.js";
import { applySearch } from "../search.js";
import { jobView, stepView } from "../views.js";

export async function list(c: Call): Promise<Reply> {
  const rows = await c.engine.db.selectFrom("jobs").selectAll().orderBy("start_time", "desc").limit(1000).execute();
  const found = applySearch(rows, c.query, { status: (r: Job) => r.status, description: (r) => r.description, id: (r) => r.id });
  return ok("jobs", collection("job", found.map(jobView)));
}

async function job(c: Call): Promise<Job> {
  const id = pathId(c, "id", "Job");
  const j = await c.engine.db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
  if (!j) throw notFound("Job", id);
  return j;
}

export async function get(c: Call): Promise<Reply> {
  return ok("job", jobView(await job(c)));
}

export async function steps(c: Call): Promise<Reply> {
  const j = await job(c);
  const rows = await c.engine.db.selectFrom("steps").selectAll().where("job_id", "=", j.id).orderBy("number").execute();
  return ok("steps", collection("step", rows.map(stepView)));
}

/** One step, at the href its view gives. */
export async function step(c: Call): Promise<Reply> {
  const j = await job(c);
  const id = pathId(c, "step", "Step");
  const row = await c.engine.db.selectFrom("steps").selectAll().where("job_id", "=", j.id).where("id", "=", id).executeTakeFirst();
  if (!row) throw notFound("Step", id);
  return ok("step", stepView(row));
}

