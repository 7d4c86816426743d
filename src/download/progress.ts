import cliProgress from 'cli-progress';

/** Reports per-file progress: a bar with bytes and speed on a terminal, plain lines otherwise. */
export interface Progress {
  start(label: string, total: number): { advance(bytes: number): void; finish(note: string): void };
  line(text: string): void;
  stop(): void;
}

const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const bars = new cliProgress.MultiBar(
    {
      stream,
      format: '{label} |{bar}| {percentage}% {done}/{size} {speed}',
      hideCursor: true,
      clearOnComplete: false,
      autopadding: true,
    },
    cliProgress.Presets.shades_classic,
  );
  return {
    start(label, total) {
      const started = performance.now();
      let done = 0;
      const values = () => ({
        label,
        done: megabytes(done),
        size: megabytes(total),
        speed: `${megabytes(done / Math.max((performance.now() - started) / 1000, 0.001))}/s`,
      });
      const bar = bars.create(Math.max(total, 1), 0, values());
      return {
        advance(bytes) {
          done += bytes;
          bar.update(done, values());
        },
        finish(note) {
          bar.update(Math.max(total, 1), { ...values(), speed: note });
          bar.stop();
        },
      };
    },
    line: (text) => bars.log(`${text}\n`),
    stop: () => bars.stop(),
  };
}

export function plainProgress(write: (text: string) => void = (text) => process.stderr.write(text)): Progress {
  return {
    start(label, total) {
      const started = performance.now();
      return {
        advance() {},
        finish(note) {
          const seconds = (performance.now() - started) / 1000;
          write(`${label}: ${note} (${megabytes(total)} in ${seconds.toFixed(1)} s)\n`);
        },
      };
    },
    line: (text) => write(`${text}\n`),
    stop() {},
  };
}
