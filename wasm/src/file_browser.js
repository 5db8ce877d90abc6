// What `#file` resolves to outside Node (package.json "imports"): browsers
// have no file system, so bundles never pull in node:fs.
import { WeftError } from './errors.js';

export function fileStorage() {
  throw new WeftError('WEFT_EUNAVAILABLE', "file storage needs Node.js; in a browser use storage: 'indexeddb'");
}
