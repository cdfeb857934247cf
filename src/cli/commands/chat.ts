import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';

export function registerChat(program: Command): void {
  program
    .command('chat')
    .description('Talk to the editor in the terminal: instructions, feedback, /undo, /rules, /history (keeps history in the data directory)')
    .argument('[image]', 'a photo to start with; it goes with your first instruction')
    .option('--chat <id>', 'conversation name, to keep several apart', 'local')
    .action(async (image: string | undefined, opts: { chat: string }) => {
      // Loaded here so that other commands never pay for the database drivers, the bricks or the Builder.
      const [{ createRuntime }, { openSessions }] = await Promise.all([import('../../runtime.ts'), import('../../sessions/index.ts')]);
      const rt = createRuntime();
      // The database opens in its own thread while this one imports the terminal adapter.
      const opening = openSessions(rt);
      // Its failure (a locked or damaged database) is reported where it is awaited below, not as an unhandled rejection meanwhile.
      opening.catch(() => undefined);
      const [{ TerminalChat }, { preloadEnglish }] = await Promise.all([import('../../../adapters/terminal/terminal-chat.ts'), import('../../builder/english/nlp.ts')]);
      const sessions = await opening;
      const resultsDir = join(rt.config.dataDir, 'results');
      console.log(`Data directory: ${rt.config.dataDir} (database: ${sessions.database.location}); results go to ${resultsDir}`);
      const chat = new TerminalChat({
        manager: sessions.manager,
        input: process.stdin,
        output: process.stdout,
        resultsDir,
        registry: rt.registry,
        key: { platform: 'terminal', chatId: opts.chat, userId: userInfo().username },
        ...(image ? { initialImage: image } : {}),
      });
      const onSigint = (): void => {
        void sessions.manager.cancel({ platform: 'terminal', chatId: opts.chat, userId: userInfo().username }, userInfo().username).then((r) => {
          if (!r.ok) process.stdin.destroy();
          else console.log(r.text);
        });
      };
      process.on('SIGINT', onSigint);
      // The prompt is up: the models load in the pool's threads while the user types.
      rt.pool?.warm().catch((err: unknown) => rt.logger.warn({ err }, 'could not load the models ahead of the first edit; they load when an edit needs them'));
      // And the Builder's English layer loads on the main thread, on the turn after the prompt is printed.
      void preloadEnglish();
      try {
        await chat.run();
      } finally {
        process.off('SIGINT', onSigint);
        await sessions.close();
        await rt.remote.close();
        await rt.pool?.close();
      }
    });
}
