// The relay this app syncs through: ?relay=ws://… in the page's URL (handy
// for trying another one), else VITE_WEFT_RELAY from .env.local at build
// time, else a relay on this machine. Without a reachable relay the app
// still works: everything is kept in IndexedDB and syncs when it can.
const fromPage = new URLSearchParams(location.search).get('relay');

export const RELAY = fromPage || import.meta.env.VITE_WEFT_RELAY || 'ws://localhost:8787';
