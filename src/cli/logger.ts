import pino, { type Logger } from "pino";

/** The daemons' logger: JSON lines on stderr. Level from --log-level or $KCORE_LOG_LEVEL. */
export function createLogger(level: string | undefined, name: string): Logger {
  return pino(
    { name, level: level ?? process.env.KCORE_LOG_LEVEL ?? "info", base: { pid: process.pid } },
    pino.destination({ dest: 2, sync: true }),
  );
}
