// Schemas of collections: any Standard Schema validator
// (https://standardschema.dev: zod, valibot, arktype... expose
// `~standard.validate`) checks every local write of a collection before it
// reaches the core, so nothing that fails it is written; `migrate` turns
// documents written by older app versions into the current shape when they
// are read (docs/API.md, "Schemas"). Remote changes are not validated: the
// other replica's app validated them against its own version of the schema.
import { WeftError } from './errors.js';

/** Throws WEFT_EINVAL unless `schema` is a Standard Schema (v1). */
export function checkSchema(schema) {
  const std = schema?.['~standard'];
  if (!std || std.version !== 1 || typeof std.validate !== 'function')
    throw new WeftError('WEFT_EINVAL', 'schema must be a Standard Schema validator (zod, valibot, arktype...: an object with ~standard.validate)');
}

/**
 * The validated document (the schema's output: defaults filled, values
 * transformed) or a WEFT_EINVAL that lists the issues (also as err.issues).
 */
export function validate(schema, where, doc) {
  const r = schema['~standard'].validate(doc);
  if (r && typeof r.then === 'function') {
    r.then(undefined, () => {}); // nobody will await it
    throw new WeftError('WEFT_EINVAL', `${where}: the schema validates asynchronously, and writes are synchronous: use a synchronous schema`);
  }
  if (r.issues) {
    const e = new WeftError('WEFT_EINVAL', `${where} does not match the schema: ${describe(r.issues)}`);
    e.issues = r.issues;
    throw e;
  }
  return r.value;
}

function describe(issues) {
  const shown = issues.slice(0, 5).map((i) => {
    const path = (i.path ?? []).map((p) => (typeof p === 'object' && p !== null ? p.key : p)).join('.');
    return path ? `${path}: ${i.message}` : i.message;
  });
  return shown.join('; ') + (issues.length > 5 ? ` (and ${issues.length - 5} more)` : '');
}

/** The document an update of `current` (undefined: none) by `patch` leaves (a field set to undefined is gone). */
export function afterPatch(current, patch) {
  const doc = { ...(current ?? {}) };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete doc[k];
    else doc[k] = v;
  }
  return doc;
}

/** The fields an update writes: those of the patch, with the values the schema made of them. */
export function patchOf(patch, validated) {
  const out = {};
  for (const k of Object.keys(patch)) out[k] = patch[k] === undefined ? undefined : validated[k];
  return out;
}
