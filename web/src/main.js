// The app's entry: routes between the start screen and an open space.
//
//   #<space>.<token>.<key>   an invite link: join, then continue as below
//   #s=<space id>            a space this device holds
//   (nothing)                the start screen
//
// The invite (which holds the space's key) is removed from the address bar
// as soon as it has been read, so it does not linger in history.
import './style.css';
import { h, setChildren } from './dom.js';
import { create, join, reopen, restore, explain } from './session.js';
import { homeView } from './home.js';
import { spaceView } from './space-view.js';

const root = document.getElementById('app');
const errors = document.getElementById('errors');
let open = null; // { space, view }
let shown = 0; // bumped by every screen change, so a slow open that was overtaken gives up

/** Shows an error until dismissed (role=alert: screen readers announce it). */
function report(err, doing) {
  console.warn(doing, err);
  const msg = explain(err, doing);
  if ([...errors.children].some((c) => c.dataset.msg === msg)) return;
  const item = h('div', { class: 'error', role: 'alert', 'data-msg': msg }, h('span', null, msg),
    h('button', { type: 'button', class: 'icon', 'aria-label': 'Dismiss', onclick: () => item.remove() }, '✕'));
  errors.append(item);
}

async function closeSpace() {
  if (!open) return;
  const { space, view } = open;
  open = null;
  view.close();
  await space.close();
}

async function route() {
  errors.replaceChildren(); // messages belong to the screen they were shown on
  let frag = location.hash.slice(1);
  try {
    frag = decodeURIComponent(frag);
  } catch {
    // not percent-encoded: use it as it is
  }
  if (!frag) return showHome();
  if (frag.startsWith('s=')) return showSpace(() => reopen(frag.slice(2)), 'Opening the space');
  if (frag.includes('.')) return showSpace(() => join(location.href), 'Opening the invite');
  return showHome();
}

function showHome() {
  shown++;
  closeSpace();
  document.title = 'Weft notes';
  setChildren(root, homeView({
    onCreate: (name) => showSpace(() => create(name), 'Creating the space'),
    onJoin: (link) => {
      if (!link.includes('#')) return report(new Error('an invite link has a # and a long code after it'), 'Joining');
      showSpace(() => join(link), 'Opening the invite');
    },
    onRestore: (text, passphrase) => showSpace(() => restore(text, passphrase), 'Restoring the backup'),
    onOpen: (id) => go(`#s=${id}`),
  }));
}

async function showSpace(opener, doing) {
  const mine = ++shown;
  await closeSpace();
  setChildren(root, h('p', { class: 'loading', role: 'status' }, `${doing}…`));
  let space;
  try {
    space = await opener();
  } catch (e) {
    if (mine !== shown) return;
    report(e, doing);
    history.replaceState(null, '', location.pathname + location.search);
    return showHome();
  }
  if (mine !== shown) return space.close();
  if (location.hash !== `#s=${space.id}`) history.replaceState(null, '', `${location.pathname}${location.search}#s=${space.id}`);
  const view = spaceView(space, { report, onHome: () => go('') });
  open = { space, view };
  setChildren(root, view.el);
  window.weftSpace = space; // for the console and the end-to-end tests
}

function go(hash) {
  if (location.hash === hash || (!hash && !location.hash)) route();
  else location.hash = hash;
}

addEventListener('hashchange', route);
// The fragment is the app's route, so the skip link moves focus itself.
document.querySelector('.skip').addEventListener('click', (ev) => {
  ev.preventDefault();
  const main = document.getElementById('main');
  main?.setAttribute('tabindex', '-1');
  main?.focus();
});
route();

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  navigator.serviceWorker.register('./sw.js').catch((e) => console.warn('service worker:', e));
}
