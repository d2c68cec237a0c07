import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  /** Epoch ms when the request's body had arrived. */
  at: number;
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

/**
 * A real webhook receiver on a loopback port (node:http, port 0). `answer` decides each
 * response from the request's index: a status (with headers), or `hang` to never answer.
 */
export class Receiver {
  readonly received: Received[] = [];
  #url = '';
  readonly #server = createServer((request, response) => void this.#handle(request, response));
  readonly #hanging = new Set<ServerResponse>();

  constructor(
    private answer: (
      index: number,
    ) => { status: number; headers?: Record<string, string> } | 'hang' = () => ({ status: 200 }),
  ) {}

  static async start(answer?: ConstructorParameters<typeof Receiver>[0]): Promise<Receiver> {
    const receiver = new Receiver(answer);
    await new Promise<void>((resolve) => receiver.#server.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.#server.address() as AddressInfo;
    receiver.#url = `http://127.0.0.1:${port}`;
    return receiver;
  }

  get url(): string {
    return this.#url;
  }

  setAnswer(answer: ConstructorParameters<typeof Receiver>[0]): void {
    if (answer) this.answer = answer;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const index = this.received.length;
    this.received.push({
      at: Date.now(),
      path: request.url ?? '',
      headers: request.headers,
      body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
    });
    const answer = this.answer(index);
    if (answer === 'hang') {
      this.#hanging.add(response);
      return;
    }
    response.writeHead(answer.status, answer.headers ?? {});
    response.end('{}');
  }

  async close(): Promise<void> {
    for (const response of this.#hanging) response.destroy();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
