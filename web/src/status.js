// The sync indicator: weftdb's space.status ({ state, pending, uploads })
// as words.
// "synced" means the relay said we hold everything it held (not a guess);
// pending counts own changes the relay has not acknowledged yet. When the
// browser says it has no network, the indicator says offline at once: an
// open WebSocket can take a long time to notice that it is dead. Two
// version moments get a sentence too: 'version' (the space moved to a
// format level this build does not read: reload for the update) and a
// raise of the space's format level by its owner (weftdb's 'formatLevel').
import { h } from './dom.js';
import { relayUrl } from './session.js';

const LABEL = {
  offline: 'Offline',
  connecting: 'Connecting…',
  syncing: 'Syncing',
  synced: 'Synced',
  version: 'Update needed',
  removed: 'Removed',
  expired: 'Access lapsed',
  denied: 'No access',
};

// The final states an admin must act on (weftdb's 'access' event): what
// happened, and that local data stays.
const ACCESS = {
  removed: 'You were removed from this space. What is on this device stays readable here, but nothing new reaches you. Ask an admin if this is a mistake.',
  expired: 'Your access to this space lapsed and no admin renewed it. Your edits stay on this device; ask an admin to renew your access: this device comes back by itself once they do.',
  denied: 'This device has no access to the space: its invite link was already used by another device, or has not reached the relay yet, or it waits for an admin to let it in. Ask an admin: this device comes in by itself once they do.',
};

const EXPLAIN_AFTER_MS = 3000; // reconnects are quick; explain only an outage that lasts

/**
 * statusBadge(space) → { el, notice, level, close() }: el is the badge;
 * notice a line saying what "offline" (or "update needed") means for the
 * user's edits, shown once the relay has been out of reach for a few
 * seconds; level a line shown when the space's format level is raised.
 */
export function statusBadge(space) {
  const el = h('span', { class: 'status', role: 'status', 'aria-live': 'polite' });
  const notice = h('p', { class: 'notice offline-notice', hidden: true });
  let timer = null;
  const explain = () => {
    const net = navigator.onLine === false;
    notice.textContent = net
      ? 'You are offline. Your edits are saved on this device and will sync when you are back online.'
      : `Cannot reach the relay (${relayUrl()}). Your edits are saved on this device and will sync when it is back.`;
    notice.hidden = false;
  };
  const level = h('p', { class: 'notice', hidden: true });
  const offLevel = space.on('formatLevel', ({ level: n }) => {
    level.textContent = `This space now uses format level ${n}: members on an older version of the app are asked to update before they can sync again.`;
    level.hidden = false;
  });
  let last = space.status;
  const show = (st = last) => {
    last = st;
    const { pending } = st;
    const state = navigator.onLine === false ? 'offline' : st.state;
    let text = LABEL[state] ?? state;
    if (pending && state !== 'offline') text = `Syncing ${pending}`;
    else if (pending) text = `Offline · ${pending} to send`;
    // Files queued on this device (weftdb uploads them when it can).
    if (st.uploads) text += ` · ${st.uploads} file${st.uploads === 1 ? '' : 's'} to upload`;
    el.textContent = text;
    el.dataset.state = state;
    el.dataset.pending = String(pending);
    el.title = state === 'offline'
      ? 'Not connected to the relay. Edits are saved on this device and will sync when it is back.'
      : state === 'synced' ? 'Everything is on the relay.' : 'Talking to the relay.';
    if (ACCESS[state]) {
      clearTimeout(timer);
      timer = null;
      notice.textContent = ACCESS[state];
      notice.hidden = false;
      el.title = 'Ask an admin.';
    } else if (state === 'version') {
      clearTimeout(timer);
      timer = null;
      notice.textContent = 'This space uses a newer format than this version of the app reads. Reload to update: your edits are kept on this device.';
      notice.hidden = false;
      el.title = 'The app is too old for this space.';
    } else if (state === 'synced' || state === 'syncing') {
      clearTimeout(timer);
      timer = null;
      notice.hidden = true;
    } else if (!timer && notice.hidden) timer = setTimeout(() => {
      timer = null;
      const now = navigator.onLine === false ? 'offline' : last.state;
      if (now === 'offline' || now === 'connecting') explain();
    }, EXPLAIN_AFTER_MS);
  };
  show(space.status);
  const off = space.on('status', show);
  const net = () => show();
  addEventListener('online', net);
  addEventListener('offline', net);
  return {
    el,
    notice,
    level,
    close() {
      clearTimeout(timer);
      off();
      offLevel();
      removeEventListener('online', net);
      removeEventListener('offline', net);
    },
  };
}
