// Errors a user can cause, and the exit codes every way out maps to.

/** Exit codes of the arbiter (gunicorn's numbering for the boot failures). */
export const ExitCode = {
  OK: 0,
  /** Bad input: option, config, address, address in use. */
  USAGE: 1,
  /** A worker could not boot. */
  WORKER_BOOT_ERROR: 3,
  /** The app could not be loaded (missing module, import failed, not an app). */
  APP_LOAD_ERROR: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error with a stable code, a message that names the bad value, and an exit code. */
export class GuvnorError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  constructor(code: string, message: string, options: { cause?: unknown; exitCode?: ExitCode } = {}) {
    super(message, { cause: options.cause });
    this.name = "GuvnorError";
    this.code = code;
    this.exitCode = options.exitCode ?? ExitCode.USAGE;
  }
}

/** A bad setting value, from any source (flag, environment, config file). */
export class ConfigError extends GuvnorError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("E_CONFIG", message, options);
    this.name = "ConfigError";
  }
}

/** A bind address that cannot be parsed or bound. */
export class AddressError extends GuvnorError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("E_ADDRESS", message, options);
    this.name = "AddressError";
  }
}

/** The app module is missing, fails to import, or exports something that is not an app. */
export class AppLoadError extends GuvnorError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("E_APP_LOAD", message, { ...options, exitCode: ExitCode.APP_LOAD_ERROR });
    this.name = "AppLoadError";
  }
}

/** A worker cannot serve (what it was handed is unusable, or --serving native cannot adopt its sockets). */
export class WorkerBootError extends GuvnorError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("E_WORKER_BOOT", message, { ...options, exitCode: ExitCode.WORKER_BOOT_ERROR });
    this.name = "WorkerBootError";
  }
}
