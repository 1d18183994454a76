/** The page's entry: token handling, the two views (playground, dashboard), and navigation. */
import { clearError, initBanner, showError } from './banner.ts';
import { initChat, loadModels } from './chat.ts';
import { startDashboard, stopDashboard } from './dashboard.ts';
import { byId } from './dom.ts';
import { getToken, setToken } from './token.ts';

type View = 'playground' | 'dashboard';

const viewFor = (path: string): View => (path === '/dashboard' ? 'dashboard' : 'playground');

function show(view: View): void {
  byId('playground-view').hidden = view !== 'playground';
  byId('dashboard-view').hidden = view !== 'dashboard';
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.title = view === 'dashboard' ? 'Dashboard · edgeserve' : 'Playground · edgeserve';
  // A hidden tab stops polling: nobody is looking, and the edge need not scrape for it.
  if (view === 'dashboard' && getToken() && !document.hidden) startDashboard();
  else stopDashboard();
}

function initNavigation(): void {
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    link.addEventListener('click', (event) => {
      if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      history.pushState(null, '', link.pathname);
      show(viewFor(link.pathname));
      byId('main').focus();
    });
  }
  window.addEventListener('popstate', () => show(viewFor(location.pathname)));
  document.addEventListener('visibilitychange', () => show(viewFor(location.pathname)));
}

function onToken(): void {
  if (!getToken()) {
    showError(
      'token',
      'Paste an API token (npm start prints one) to use the playground and dashboard.',
    );
    return;
  }
  clearError('token');
  void loadModels();
  show(viewFor(location.pathname));
}

function initToken(): void {
  const input = byId<HTMLInputElement>('token');
  input.value = getToken();
  byId('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    setToken(input.value);
    input.value = getToken();
    onToken();
  });
  byId('token-clear').addEventListener('click', () => {
    setToken('');
    input.value = '';
    stopDashboard();
    onToken();
  });
}

initBanner();
initToken();
initChat();
initNavigation();
show(viewFor(location.pathname));
onToken();
