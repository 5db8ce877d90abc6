import { createRoot } from 'react-dom/client';
import { SpaceProvider } from 'weftdb/react';
import { App } from './App.jsx';
import { openTheSpace } from './space.js';

createRoot(document.getElementById('root')).render(
  <SpaceProvider open={openTheSpace} onError={(e) => (document.body.textContent = `Could not open the space: ${e.message}`)}>
    <App />
  </SpaceProvider>,
);
