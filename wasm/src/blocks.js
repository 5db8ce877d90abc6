// Blocks of a rich text (docs/TEXT.md, "Blocks"; docs/API.md, "Rich text"):
// a paragraph, heading, list item, quote or code block starts at a block
// marker, a "\n" carrying a `block` mark whose value is the block's
// attributes ({ type: 'heading', level: 2 }). The mark never expands, so it
// stays on that one character whatever is typed around it, and a block runs
// from its marker to the next one. Everything else stays one flat text:
// splitting a block is inserting a marker, merging two is deleting one,
// changing a block is formatting its marker (the latest op wins, as for
// any mark). Text before the first marker is a paragraph, and so is the
// text after a plain "\n" outside a code block: plain-text notes read as
// one paragraph per line. Inside a code block a plain "\n" is a line of
// the code.
import { WeftError } from './errors.js';

/** The block types the bindings know (others read as their own type; bindings show them as paragraphs). */
export const BLOCK_TYPES = Object.freeze(['paragraph', 'heading', 'bullet', 'ordered', 'blockquote', 'code']);

const PARAGRAPH = Object.freeze({ type: 'paragraph' });

/** Whether `v` (a `block` mark's value) names a block. */
function isAttrs(v) {
  return !!v && typeof v === 'object' && !Array.isArray(v) && typeof v.type === 'string' && v.type.length > 0;
}

/**
 * Checks block attributes for setBlock/insertBlock: a plain object with a
 * `type`; `level` (headings) an integer 1..6, `depth` (list items) 0..15.
 * Throws WEFT_EINVAL.
 */
export function checkBlockAttrs(attrs) {
  if (!isAttrs(attrs)) throw new WeftError('WEFT_EINVAL', 'block attributes are an object with a type ({ type: "heading", level: 1 })');
  if (attrs.type.length > 64) throw new WeftError('WEFT_EINVAL', 'a block type has at most 64 characters');
  if ('level' in attrs && !(Number.isInteger(attrs.level) && attrs.level >= 1 && attrs.level <= 6))
    throw new WeftError('WEFT_EINVAL', `heading level ${attrs.level} is not 1..6`);
  if ('depth' in attrs && !(Number.isInteger(attrs.depth) && attrs.depth >= 0 && attrs.depth <= 15))
    throw new WeftError('WEFT_EINVAL', `list depth ${attrs.depth} is not 0..15`);
}

/**
 * @typedef {{ insert: string, attributes?: Record<string, unknown> }} Span
 * @typedef {{ marker: number | null, start: number, end: number, attrs: Record<string, unknown>, spans: Span[] }} Block
 */

/**
 * The blocks of a text given its spans (text.spans()): each with the
 * index of its marker (null for the text before the first marker), its
 * content [start, end) in UTF-16 units, its attributes, and the content's
 * spans without the `block` mark. Never empty: an empty text is one empty
 * paragraph.
 * @param {Span[]} spans
 * @returns {Block[]}
 */
export function blocksOf(spans) {
  /** @type {Block[]} */
  const out = [];
  let cur = { marker: null, start: 0, end: 0, attrs: PARAGRAPH, spans: [] };
  let at = 0;
  const addText = (s, attributes) => {
    if (!s) return;
    const last = cur.spans[cur.spans.length - 1];
    if (last && sameAttrs(last.attributes, attributes)) last.insert += s;
    else cur.spans.push(attributes ? { insert: s, attributes } : { insert: s });
  };
  const open = (marker, attrs) => {
    cur.end = marker;
    out.push(cur);
    cur = { marker, start: marker + 1, end: marker + 1, attrs, spans: [] };
  };
  for (const sp of spans) {
    const { block, ...rest } = sp.attributes ?? {};
    const inline = Object.keys(rest).length ? rest : undefined;
    const marked = isAttrs(block);
    let from = 0;
    for (let i = sp.insert.indexOf('\n'); i >= 0; i = sp.insert.indexOf('\n', i + 1)) {
      if (!marked && cur.attrs.type === 'code') continue; // a line of the code
      addText(sp.insert.slice(from, i), inline);
      // A marker at 0 starts the first block: nothing comes before it.
      if (marked && at + i === 0) cur = { marker: 0, start: 1, end: 1, attrs: { ...block }, spans: [] };
      else open(at + i, marked ? { ...block } : PARAGRAPH);
      from = i + 1;
    }
    addText(sp.insert.slice(from), inline);
    at += sp.insert.length;
  }
  cur.end = at;
  out.push(cur);
  for (const b of out) if (b.attrs === PARAGRAPH) b.attrs = { type: 'paragraph' };
  return out;
}

function sameAttrs(a, b) {
  if (!a || !b) return !a && !b;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));
}
