import type { Command } from 'commander';

export function registerBricks(program: Command): void {
  program
    .command('bricks')
    .description('List the bricks as the Builder sees them, with the backend each would use here')
    .option('--catalogue', 'print only the Builder catalogue text')
    .action(async (opts: { catalogue?: boolean }) => {
      const { renderBrick } = await import('../../engine/registry.ts');
      const { routeText } = await import('../../remote/client/gpu-host.ts');
      const { createRuntime } = await import('../../runtime.ts');
      const rt = createRuntime();
      if (opts.catalogue) {
        console.log(rt.registry.catalogue());
        return;
      }
      for (const s of await rt.registry.status()) {
        const missing = s.backends.filter((b) => !b.available);
        console.log(renderBrick(s.brick));
        const route = routeText(s.brick);
        if (route) console.log(`Route: ${route}`);
        console.log(`Backend: ${s.active ? `${s.active.name}${s.active.detail ? ` (${s.active.detail})` : ''}` : 'none available here'}`);
        console.log(s.active ? 'Status: ready' : `Status: not ready${missing.length ? ` — ${missing.map((b) => b.detail ?? b.name).join('; ')}` : ''}`);
        if (missing.length) console.log(`Missing: ${missing.map((b) => `${b.name}${b.detail ? ` — ${b.detail}` : ''}`).join('; ')}`);
        console.log('');
      }
    });
}
