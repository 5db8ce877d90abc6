// WeftError: every failure the package reports. `code` is the core's
// symbolic name (core/include/weft/error.h, e.g. 'WEFT_ENOTFOUND'), `errno`
// its number (negative, never renumbered). Errors raised by the JS layer
// itself use the same names (WEFT_EINVAL for a bad argument, WEFT_ESTATE
// for a call on a closed space, WEFT_ERIGHTS for a write without the right).

/** Codes and numbers, as in core/include/weft/error.h. */
export const ERRORS = Object.freeze({
  WEFT_ENOMEM: -1,
  WEFT_EINVAL: -2,
  WEFT_ETRUNCATED: -3,
  WEFT_EMALFORMED: -4,
  WEFT_EVERSION: -5,
  WEFT_ETOOBIG: -6,
  WEFT_ENOSPACE: -7,
  WEFT_EFORK: -8,
  WEFT_ECHAIN: -9,
  WEFT_ECLOCK: -10,
  WEFT_ESPACE: -11,
  WEFT_EPENDING_FULL: -12,
  WEFT_ENOTFOUND: -13,
  WEFT_ESTATE: -14,
  WEFT_ECRYPTO: -15,
  WEFT_ESUITE: -16,
  WEFT_ELIMIT: -17,
  WEFT_EEXPIRED: -18,
  WEFT_ENOTYET: -19,
  WEFT_ERIGHTS: -20,
  WEFT_EDELEGATION: -21,
  WEFT_EUNAVAILABLE: -22,
});

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
