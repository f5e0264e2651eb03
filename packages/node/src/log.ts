/** Structured logging (pino) for the node agent. One root logger; modules take children. */
import { pino } from "pino";

export type Logger = pino.Logger;

export function createLogger(name: string): Logger {
  return pino({
    name,
    level: process.env.VELA_LOG_LEVEL ?? "info",
    base: { pid: process.pid },
  });
}
