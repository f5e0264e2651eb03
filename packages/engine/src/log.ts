/**
 * Structured logging (pino) for the engine. Logs go to stderr so that stdout carries only the
 * machine-readable VELA-ENGINE-READY line. One root logger; modules take children.
 */
import type { Logger as PinoLogger } from "pino";
import { pino } from "./deps.js";

export type Logger = PinoLogger;

export function createLogger(name: string): Logger {
  return pino({ name, level: process.env.VELA_LOG_LEVEL ?? "info", base: { pid: process.pid } }, pino.destination(2));
}
