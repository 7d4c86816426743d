/**
 * Screenshots of Swagger UI (/docs) as a browser shows it, served on generated fixture models
 * (one embedding model, one reranker, API keys on): the page as it opens, and with every operation
 * expanded after Authorize and "Try it out" → "Execute" on each (exit code 1 unless each answers 200).
 * Drives headless Chromium over the DevTools protocol (no browser package needed).
 *
 *   node --experimental-websocket --import tsx scripts/swagger-screenshot.ts [--out DIR] [--chromium PATH]
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { listen, startTestApp, tempDir } from '../test/helpers/app.ts';

const HELP = `Usage: node --experimental-websocket --import tsx scripts/swagger-screenshot.ts [options]

Starts the server on small generated models (an embedding model and a reranker, named like the
defaults, API keys on) and saves screenshots of its Swagger UI:
  swagger-overview.png     /docs as it opens, down to its Schemas (1280 px wide)
  swagger-expanded-NN.png  every operation expanded and executed with Try it out (after
                           Authorize): the whole page, in parts
Exits with 1 unless every operation, executed as the page fills it in, answers 200.

Options:
  --out DIR         where the PNGs go (default: ./swagger-screenshots)
  --chromium PATH   the browser (default: chromium; Debian: apt-get install chromium)
  --help            this text`;

const API_KEY = 'screenshot-key';
const WIDTH = 1280;
const HEIGHT = 900;
/** The expanded page, ~13000 px tall, is saved in parts of this height. */
const PART_HEIGHT = 1600;

type Message = { id?: number; result?: Record<string, unknown>; error?: { message: string }; sessionId?: string };

/** A DevTools protocol connection: one command at a time is all this script needs. */
class DevTools {
  private next = 0;
  private readonly pending = new Map<number, (message: Message) => void>();

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as Message;
      if (message.id !== undefined) this.pending.get(message.id)?.(message);
    });
  }

  static async connect(url: string): Promise<DevTools> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.addEventListener('open', resolve, { once: true });
      socket.addEventListener('error', reject, { once: true });
    });
    return new DevTools(socket);
  }

  async send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = ++this.next;
    const answer = new Promise<Message>((resolve) => this.pending.set(id, resolve));
    this.socket.send(JSON.stringify({ id, method, params, sessionId }));
    const message = await answer;
    this.pending.delete(id);
    if (message.error) throw new Error(`${method}: ${message.error.message}`);
    return message.result ?? {};
  }

  close() {
    this.socket.close();
  }
}

/** Starts headless Chromium; resolves with its DevTools address once it prints it. */
function startChromium(executable: string, profile: string) {
  const browser = spawn(executable, ['--headless=new', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const address = new Promise<string>((resolve, reject) => {
    let output = '';
    browser.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const found = output.match(/DevTools listening on (ws:\/\/\S+)/);
      if (found) resolve(found[1]!);
    });
    browser.on('error', reject);
    browser.on('exit', (code) => reject(new Error(`${executable} exited (${code}) before it listened:\n${output}`)));
  });
  return { browser, address };
}

type Evaluate = (expression: string) => Promise<unknown>;
type WaitFor = (expression: string, what: string) => Promise<void>;

/** Authorize, as a user does: the key typed into the dialog (React reads the value through its input event). */
async function authorize(evaluate: Evaluate, waitFor: WaitFor) {
  await evaluate("document.querySelector('.btn.authorize').click()");
  await waitFor("document.querySelector('.auth-container input')", 'the Authorize dialog');
  await evaluate(`(() => {
    const input = document.querySelector('.auth-container input');
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(input, ${JSON.stringify(API_KEY)});
    input.dispatchEvent(new Event('input', { bubbles: true }));
    document.querySelector('.auth-container .btn.modal-btn.authorize').click();
  })()`);
  await waitFor(`document.querySelector('.auth-container button[aria-label="Remove authorization"]')`, 'the key accepted');
  await evaluate("document.querySelector('.btn-done').click()");
}

/** "Try it out", then "Execute", on every operation with what the page fills in; the status codes it shows. */
async function tryEachOperation(evaluate: Evaluate, waitFor: WaitFor, operations: number): Promise<string[]> {
  await evaluate("document.querySelectorAll('.opblock .try-out__btn').forEach((button) => button.click())");
  await waitFor(`document.querySelectorAll('.opblock .execute').length === ${operations}`, 'an Execute button on every operation');
  await evaluate("document.querySelectorAll('.opblock .execute').forEach((button) => button.click())");
  await waitFor(`document.querySelectorAll('.opblock .live-responses-table tbody .response-col_status').length === ${operations}`, 'every response');
  return (await evaluate(
    "[...document.querySelectorAll('.opblock')].map((block) => block.querySelector('.opblock-summary-path').textContent.replace(/\\u200b/g, '') + ' ' + block.querySelector('.live-responses-table tbody .response-col_status').textContent.trim())",
  )) as string[];
}

async function main() {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'swagger-screenshots' }, chromium: { type: 'string', default: 'chromium' }, help: { type: 'boolean' } } });
  if (values.help) return console.log(HELP);
  const server = await startTestApp(
    { 'sentence-transformers/all-MiniLM-L12-v2': {}, 'cross-encoder/ms-marco-MiniLM-L6-v2': { crossEncoder: { activation: 'torch.nn.modules.linear.Identity' } } },
    'all-MiniLM-L12-v2\ncross-encoder/ms-marco-MiniLM-L6-v2 alias=ms-marco-MiniLM-L6-v2',
    { apiKeys: [API_KEY] },
  );
  const profile = await tempDir('chromium-profile');
  const { browser, address } = startChromium(values.chromium, profile);
  try {
    const url = `${await listen(server)}/docs`;
    const devtools = await DevTools.connect(await address);
    const { targetId } = await devtools.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = (await devtools.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const page = (method: string, params?: Record<string, unknown>) => devtools.send(method, params, sessionId);
    const evaluate = async (expression: string) => ((await page('Runtime.evaluate', { expression, returnByValue: true })) as { result: { value: unknown } }).result.value;
    const waitFor = async (expression: string, what: string) => {
      for (let tries = 0; tries < 300; tries++) {
        if (await evaluate(`Boolean(${expression})`)) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`Swagger UI did not show ${what} within 30 s`);
    };
    const capture = async (file: string, clip: { y: number; height: number }) => {
      const region = { x: 0, y: clip.y, width: WIDTH, height: clip.height, scale: 1 };
      const { data } = (await page('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip: region })) as { data: string };
      await writeFile(join(values.out, file), Buffer.from(data, 'base64'));
      console.log(`${join(values.out, file)}: ${WIDTH}x${clip.height}`);
    };

    await mkdir(values.out, { recursive: true });
    await page('Emulation.setDeviceMetricsOverride', { width: WIDTH, height: HEIGHT, deviceScaleFactor: 1, mobile: false });
    await page('Page.navigate', { url });
    await waitFor("document.querySelectorAll('.opblock').length > 0", 'its operations');
    const operations = Number(await evaluate("document.querySelectorAll('.opblock').length"));
    console.log(`${url}: ${operations} operations, tags ${String(await evaluate("[...document.querySelectorAll('.opblock-tag')].map((tag) => tag.dataset.tag).join(', ')"))}`);
    // Down to the Schemas section: the title, the description and every operation.
    const operationsEnd = Math.ceil(Number(await evaluate("document.querySelector('section.models').getBoundingClientRect().top + window.scrollY")));
    await capture('swagger-overview.png', { y: 0, height: operationsEnd });

    await evaluate("document.querySelectorAll('.opblock-summary-control').forEach((summary) => summary.click())");
    await waitFor(`document.querySelectorAll('.opblock.is-open').length === ${operations}`, 'every operation expanded');
    await authorize(evaluate, waitFor);
    const statuses = await tryEachOperation(evaluate, waitFor, operations);
    console.log(`Try it out, each operation as the page fills it in: ${statuses.join(', ')}`);
    if (!statuses.every((status) => status.endsWith(' 200'))) process.exitCode = 1;
    // And each schema of the Schemas section, one level deep (oneOf shows its branches).
    await evaluate("document.querySelectorAll('.models .model-container > .model-box > .model-box-control').forEach((toggle) => toggle.click())");
    await waitFor("document.querySelectorAll('.models .model-container .model-box .inner-object').length > 0", 'the schemas expanded');
    const pageHeight = Math.ceil(Number(await evaluate('document.documentElement.scrollHeight')));
    for (let y = 0, part = 1; y < pageHeight; y += PART_HEIGHT, part++) {
      await capture(`swagger-expanded-${String(part).padStart(2, '0')}.png`, { y, height: Math.min(PART_HEIGHT, pageHeight - y) });
    }
    devtools.close();
  } finally {
    browser.kill();
    await server.close();
    await rm(profile, { recursive: true, force: true });
  }
}

await main();
