// A code-snippet note's body: a CodeMirror 6 editor bound to the note's
// weftdb text (weftdb/codemirror): plain text typed by several people at
// once, their carets in their colours, Ctrl+Z undoing one's own typing.
// The editor lives in a shadow root: CodeMirror then styles itself through
// constructed style sheets, which the relay's Content-Security-Policy
// (style-src 'self', relay/http.c) allows, where the <style> elements it
// adds to a document are refused.
import { EditorView } from '@codemirror/view';
import { EditorState } from '@codemirror/state';
import { weftCollab } from 'weftdb/codemirror';

/** A code editor for `text` in `parent`: { destroy() }. */
export function codeEditor(text, parent, { readOnly, presence, undoManager, user, onLocalEdit }) {
  const host = document.createElement('div');
  host.className = 'note-body code';
  parent.append(host);
  const root = host.attachShadow({ mode: 'open' });
  const view = new EditorView({
    parent: root,
    root,
    doc: text.toString(),
    extensions: [
      weftCollab(text, { presence, undoManager, user }),
      EditorView.editable.of(!readOnly),
      EditorState.readOnly.of(!!readOnly),
      EditorView.contentAttributes.of({ 'aria-label': 'Code', id: 'note-code' }),
      EditorView.theme({ '&': { fontFamily: 'ui-monospace, monospace' } }),
    ],
  });
  const off = text.observe((_d, { local }) => local && onLocalEdit?.());
  return {
    destroy() {
      off();
      view.destroy();
      host.remove();
    },
  };
}
