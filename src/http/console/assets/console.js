/* global document */
// Entry point of every console page: reads the model (states, features), draws the token box,
// then hands over to the page's module.
import { ApiError, api, setToken, token } from './api.js';
import { h, notice, pill, replace } from './dom.js';
import { deadLettersPage } from './dead-letters.js';
import { overviewPage } from './overview.js';
import { sagaPage } from './saga.js';
import { sagasPage } from './sagas.js';

const PAGES = { overview: overviewPage, sagas: sagasPage, saga: sagaPage, 'dead-letters': deadLettersPage };

function authBox(features) {
  const box = document.getElementById('auth');
  if (!features.admin) {
    replace(box, pill('operator actions off', 'muted'));
    box.title = 'Start sagaflow with SAGAFLOW_ADMIN_TOKEN to cancel sagas and re-drive dead letters from here';
    return;
  }
  if (token()) {
    replace(
      box,
      pill('admin token set', 'ok'),
      h('button', { type: 'button', id: 'forget-token', onclick: () => { setToken(''); document.location.reload(); } }, 'Forget'),
    );
    return;
  }
  const input = h('input', { type: 'password', id: 'token-input', placeholder: 'admin token', autocomplete: 'off', 'aria-label': 'admin token' });
  const use = () => {
    if (!input.value) return;
    setToken(input.value.trim());
    document.location.reload();
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') use();
  });
  replace(box, input, h('button', { type: 'button', id: 'use-token', onclick: use }, 'Use'));
}

async function start() {
  const main = document.getElementById('main');
  const name = document.body.dataset.page;
  let model;
  try {
    model = (await api('/console/api/model')).body;
  } catch (err) {
    replace(main, notice(`The console cannot reach sagaflow: ${err.message}`, 'error'));
    return;
  }
  authBox(model.features);
  const askForToken = (text) => {
    replace(main, notice(text, 'error'));
    document.getElementById('token-input')?.focus();
  };
  if (model.features.protectReads && !token()) {
    askForToken('This sagaflow keeps its data behind the admin token (SAGAFLOW_PROTECT_READS): enter the token above.');
    return;
  }
  const page = PAGES[name];
  replace(main);
  try {
    await page(main, model);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) askForToken('The admin token entered is not the right one: forget it and enter it again.');
    else main.prepend(notice(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err), 'error'));
  }
}

void start();
