// The service worker: keeps the app shell (every file of the build) in a
// cache so the app opens offline. Data never passes through here: it lives
// in IndexedDB and travels over the relay's WebSocket. vite.config.js fills
// in PRECACHE (the build's files) and VERSION (a hash of them), so a new
// build installs a new cache and drops the old one.
const VERSION = '__VERSION__';
const PRECACHE = __PRECACHE__;
const CACHE = `weft-demo-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) if (key.startsWith('weft-demo-') && key !== CACHE) await caches.delete(key);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== location.origin) return;
  // Pages: the cached shell (the app routes by fragment, so one page serves
  // every address); network only when the cache lacks it.
  if (req.mode === 'navigate') {
    event.respondWith(caches.match('./', { cacheName: CACHE }).then((hit) => hit ?? fetch(req)));
    return;
  }
  // Build files are content-hashed: a cached copy is always right.
  event.respondWith(caches.match(req, { cacheName: CACHE, ignoreSearch: true }).then((hit) => hit ?? fetch(req)));
});
