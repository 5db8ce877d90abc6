// WeftError: every failure the package reports. `code` is the core's
// symbolic name (core/include/weft/error.h, e.g. 'WEFT_ENOTFOUND'), `errno`
// its number (negative, never renumbered). Errors raised by the JS layer
// itself use the same names (WEFT_EINVAL for a bad argument, WEFT_ESTATE
// for a call on a closed space, WEFT_ERIGHTS for a write without the right).

// ERRORS (name -> number) is written from error.h's X-macro at build time
// (wasm/gen_constants.c -> constants.js), never copied here.
import { ERRORS } from './constants.js';

export { ERRORS };

const BY_NUMBER = new Map(Object.entries(ERRORS).map(([k, v]) => [v, k]));

export class WeftError extends Error {
  /**
   * @param {string} code  a WEFT_E name
   * @param {string} message
   * @param {object} [opts]  { cause }
   */
  constructor(code, message, opts) {
    super(message, opts);
    this.name = 'WeftError';
    this.code = code;
    this.errno = ERRORS[code] ?? 0;
  }

  /** The error for a core return code `rc` (< 0), with what was being done. */
  static fromCode(rc, what, coreMessage) {
    const code = BY_NUMBER.get(rc) ?? 'WEFT_EUNKNOWN';
    const err = new WeftError(code, `${what}: ${coreMessage ?? code}`);
    err.errno = rc;
    return err;
  }
}
