// A note's attachments: files dropped, pasted or picked are sealed on this
// device and uploaded beside the log (weftdb's space.files); each becomes a
// document of the `attachments` collection ({ note, file: reference, added,
// by }), one per file, so two people attaching at once both keep theirs.
// Images show a thumbnail; every attachment shows its upload or download
// progress, "waiting for upload" while its uploader has not finished (the
// reference arrives first), and opens with a click.
import { h, setChildren, when } from './dom.js';

const RETRY_MS = 3000;

/** attachmentsView(space, { readOnly, me, report }) → { el, show(noteId), close() } */
export function attachmentsView(space, { readOnly, me, report }) {
  const col = space.collection('attachments');
  let note = null;
  let off = null;
  const urls = new Map(); // file id -> object URL of its thumbnail
  const progress = new Map(); // file id -> <progress>
  const retries = new Set();

  const list = h('ul', { class: 'attachments', 'aria-label': 'Attachments' });
  const picker = h('input', { type: 'file', multiple: true, hidden: true, onchange: () => attach(picker.files) });
  const addBtn = h('button', { type: 'button', disabled: readOnly, onclick: () => picker.click() }, 'Attach files');
  const hint = h('span', { class: 'note-meta' }, readOnly ? '' : ' or drop / paste them here');
  const el = h('section', { class: 'attachment-pane', 'aria-label': 'Attachments' }, h('div', { class: 'toolbar' }, addBtn, hint, picker), list);

  async function attach(files) {
    if (readOnly || !note) return;
    for (const f of files ?? []) {
      try {
        const ref = await space.files.put(f, { name: f.name || 'pasted', type: f.type });
        await col.put(ref.id, { note, file: ref, added: Date.now(), by: me() });
      } catch (e) {
        report(e, `Attaching ${f.name || 'a file'}`);
      }
    }
  }
  // Drop and paste anywhere in the note pane (the caller passes it).
  const onDrop = (ev) => {
    if (!ev.dataTransfer?.files?.length) return;
    ev.preventDefault();
    attach(ev.dataTransfer.files);
  };
  const onDragOver = (ev) => ev.dataTransfer?.types?.includes('Files') && ev.preventDefault();
  const onPaste = (ev) => {
    if (!ev.clipboardData?.files?.length) return;
    ev.preventDefault();
    attach(ev.clipboardData.files);
  };

  const offFile = space.on('file', ({ id, loaded, total }) => {
    const bar = progress.get(id);
    if (bar) {
      bar.max = total || 1;
      bar.value = loaded;
    }
  });

  /** The thumbnail (images) or nothing; "waiting" and a retry while the upload is not whole. */
  async function load(ref, slot) {
    if (urls.has(ref.id)) return slot.replaceChildren(h('img', { src: urls.get(ref.id), alt: ref.name }));
    if (!ref.type.startsWith('image/')) return;
    try {
      const blob = await space.files.get(ref);
      const url = URL.createObjectURL(blob);
      urls.set(ref.id, url);
      slot.replaceChildren(h('img', { src: url, alt: ref.name }));
    } catch (e) {
      if (e.code !== 'WEFT_EFILE_PENDING' && e.code !== 'WEFT_EUNAVAILABLE') return report(e, `Opening ${ref.name}`);
      slot.textContent = 'waiting for upload…';
      const t = setTimeout(() => {
        retries.delete(t);
        if (slot.isConnected) load(ref, slot);
      }, RETRY_MS);
      retries.add(t);
    }
  }

  async function open(ref) {
    try {
      const blob = await space.files.get(ref);
      const a = h('a', { href: URL.createObjectURL(blob), download: ref.name || 'file' });
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    } catch (e) {
      report(e, e.code === 'WEFT_EFILE_PENDING' ? `${ref.name} is still being uploaded` : `Opening ${ref.name}`);
    }
  }

  function render(rows) {
    const queued = new Set(space.files.pending.map((p) => p.ref.id));
    setChildren(list, rows.map(({ data }) => {
      const ref = data.file;
      const bar = h('progress', { max: ref.size || 1, value: queued.has(ref.id) ? 0 : ref.size });
      progress.set(ref.id, bar);
      const slot = h('div', { class: 'thumb' });
      load(ref, slot);
      return h('li', { class: 'attachment' },
        slot,
        h('button', { type: 'button', class: 'link', onclick: () => open(ref) }, ref.name || 'file'),
        h('span', { class: 'note-meta' }, `${Math.ceil(ref.size / 1024)} KB · ${when(data.added ?? 0)} · ${data.by ?? ''}`),
        bar,
        readOnly ? null : h('button', { type: 'button', class: 'danger', 'aria-label': `Remove ${ref.name}`, onclick: () => col.delete(ref.id).catch((e) => report(e, 'Removing')) }, '×'));
    }));
  }

  return {
    el,
    /** Shows the attachments of note `id` (null: none); pane takes drops and pastes. */
    show(id, pane) {
      if (id === note) return;
      note = id;
      off?.();
      off = id ? col.subscribe({ where: { note: id } }, render) : null;
      if (!id) setChildren(list);
      if (pane && !pane.dataset.attachments) {
        pane.dataset.attachments = '1';
        pane.addEventListener('drop', onDrop);
        pane.addEventListener('dragover', onDragOver);
        pane.addEventListener('paste', onPaste);
      }
    },
    close() {
      off?.();
      offFile();
      for (const t of retries) clearTimeout(t);
      for (const u of urls.values()) URL.revokeObjectURL(u);
      urls.clear();
    },
  };
}
