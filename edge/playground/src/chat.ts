/** The chat playground: model picker, sampling controls, the conversation and its streaming. */
import { describeError, getJson } from './api.ts';
import { clearError, showError } from './banner.ts';
import { byId, el } from './dom.ts';
import { renderSegments } from './redacted.ts';
import {
  type ChatMessage,
  type ChatRequest,
  type StreamProgress,
  streamChat,
} from './stream-chat.ts';

const history: ChatMessage[] = [];
let inFlight: AbortController | null = null;

export function initChat(): void {
  byId('chat-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void send();
  });
  byId<HTMLTextAreaElement>('prompt').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      byId<HTMLFormElement>('chat-form').requestSubmit();
    }
  });
  byId('stop').addEventListener('click', () => inFlight?.abort());
  byId('clear').addEventListener('click', clearConversation);
  if (window.matchMedia('(max-width: 760px)').matches)
    byId<HTMLDetailsElement>('settings').open = false;
}

export async function loadModels(): Promise<void> {
  const select = byId<HTMLSelectElement>('model');
  try {
    const list = await getJson<{ data: { id: string }[] }>('/v1/models');
    const previous = select.value;
    select.replaceChildren(...list.data.map((m) => el('option', { value: m.id }, m.id)));
    if (list.data.some((m) => m.id === previous)) select.value = previous;
    clearError('models');
  } catch (err) {
    showError('models', `Could not load models: ${describeError(err)}`);
  }
}

function readRequest(): ChatRequest {
  const number = (id: string) => byId<HTMLInputElement>(id).valueAsNumber;
  const system = byId<HTMLTextAreaElement>('system').value.trim();
  const request: ChatRequest = {
    model: byId<HTMLSelectElement>('model').value,
    messages: [...(system ? [{ role: 'system' as const, content: system }] : []), ...history],
    temperature: number('temperature'),
    top_p: number('top-p'),
    max_tokens: number('max-tokens'),
  };
  const seed = number('seed');
  if (Number.isFinite(seed)) request.seed = seed;
  return request;
}

async function send(): Promise<void> {
  const prompt = byId<HTMLTextAreaElement>('prompt');
  const content = prompt.value.trim();
  if (!content || inFlight) return;
  history.push({ role: 'user', content });
  const question = appendMessage('user', content);
  prompt.value = '';
  const reply = appendMessage('assistant', '');
  setBusy(true, reply.article);
  const controller = new AbortController();
  inFlight = controller;
  let soFar = '';
  try {
    const done = await streamChat(readRequest(), controller.signal, (p) => {
      soFar = p.text;
      showProgress(reply, p);
    });
    showProgress(reply, done);
    history.push({ role: 'assistant', content: done.text });
    clearError('chat');
  } catch (err) {
    if (controller.signal.aborted) {
      // Stopped by the user: what arrived stays in the conversation.
      if (reply.article.isConnected) history.push({ role: 'assistant', content: soFar });
      reply.meta.append(el('span', {}, 'stopped'));
    } else {
      // Failed: take the turn back so it can be retried as it was.
      history.pop();
      question.article.remove();
      reply.article.remove();
      prompt.value = content;
      byId('empty').hidden = history.length > 0;
      showError('chat', describeError(err));
    }
  } finally {
    inFlight = null;
    setBusy(false, reply.article);
  }
}

interface MessageView {
  article: HTMLElement;
  text: HTMLElement;
  meta: HTMLElement;
}

function appendMessage(role: 'user' | 'assistant', content: string): MessageView {
  byId('empty').hidden = true;
  const text = el('div', { class: 'text' });
  renderSegments(text, content);
  const meta = el('p', { class: 'meta' });
  const article = el(
    'article',
    { class: `msg ${role}` },
    el('h2', {}, role === 'user' ? 'You' : 'Model'),
    text,
  );
  if (role === 'assistant') article.append(meta);
  byId('messages').append(article);
  article.scrollIntoView({ block: 'end' });
  return { article, text, meta };
}

function showProgress(view: MessageView, p: StreamProgress): void {
  renderSegments(view.text, p.text);
  const parts: (Node | string)[] = [];
  if (p.cache)
    parts.push(el('span', { class: `badge ${p.cache.toLowerCase()}` }, `cache ${p.cache}`));
  if (p.ttftMs !== null) parts.push(el('span', {}, `TTFT ${Math.round(p.ttftMs)} ms`));
  if (p.tokensPerSecond !== null)
    parts.push(el('span', {}, `${p.tokensPerSecond.toFixed(1)} tok/s`));
  parts.push(el('span', {}, `${p.numTokens} tokens`));
  if (p.finishReason) parts.push(el('span', {}, `finish: ${p.finishReason}`));
  view.meta.replaceChildren(...parts);
  view.article.scrollIntoView({ block: 'end' });
}

function setBusy(busy: boolean, article: HTMLElement): void {
  byId('messages').setAttribute('aria-busy', String(busy));
  article.classList.toggle('streaming', busy);
  byId<HTMLButtonElement>('send').disabled = busy;
  byId<HTMLButtonElement>('stop').disabled = !busy;
}

function clearConversation(): void {
  inFlight?.abort();
  history.length = 0;
  byId('messages').replaceChildren(byId('empty'));
  byId('empty').hidden = false;
}
