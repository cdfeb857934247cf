/**
 * Built-ins with a GPU-host backend, once a transport is configured. Their
 * local variant handles what it can (FLUX-STYLE "sepia") and raises
 * NeedsGpuHostError for the rest (FLUX-STYLE "Ghibli"); the wrapper sends
 * exactly those requests to the worker, under the same brick name with the
 * same inputs. GPU-only bricks (FLUX-FILL) are the case where the local variant
 * refuses everything, unless the user installed a model for it, which then
 * keeps running here. Deciding per request at the point of refusal means the
 * brick's own parser stays the one place that knows what the CPU can do.
 */
import { gpuHostAs, isGpuHostLine } from '../../../bricks/lib/backends.ts';
import type { AnyBrick, BackendStatus } from '../../engine/brick.ts';
import { BrickUnavailableError, NeedsGpuHostError } from '../../engine/errors.ts';
import { RemoteBrickError } from '../protocol/errors.ts';
import { type BrickTransport, remoteBrick } from './transport.ts';

/** Whether a brick lists a GPU-host backend, i.e. has requests only a GPU host can serve. */
export function offersGpuHost(b: AnyBrick): boolean {
  const s = b.backends?.();
  // Built-ins answer synchronously; a brick that answers with a promise is not one of them.
  if (!Array.isArray(s)) {
    void Promise.resolve(s).catch(() => undefined);
    return false;
  }
  return (s as readonly BackendStatus[]).some(isGpuHostLine);
}

/**
 * `local`, with the requests it refuses for want of a GPU sent to `generative`:
 * a manifest brick of the same name (ComfyUI, ONNX, a declared worker). The
 * CPU variant keeps what it can do ("sepia" stays local even when ComfyUI is
 * down); the catalogue keeps the built-in's declaration.
 */
export function withGenerativeBackend(local: AnyBrick, generative: AnyBrick): AnyBrick {
  return {
    ...local,
    ...(generative.timeoutMs !== undefined ? { timeoutMs: generative.timeoutMs } : {}),
    backendKey: () => `${local.backendKey?.() ?? 'local'}+${generative.name}@${generative.version}`,
    async backends(): Promise<BackendStatus[]> {
      const [mine, theirs] = await Promise.all([local.backends?.() ?? [], generative.backends?.() ?? [{ name: 'declared', available: true }]]);
      return mine.flatMap((s) => (isGpuHostLine(s) ? theirs.map((t) => gpuHostAs(s, t)) : [s]));
    },
    async run(inputs, ctx) {
      try {
        return await local.run(inputs, ctx);
      } catch (err) {
        if (!(err instanceof NeedsGpuHostError)) throw err;
        ctx.logger.debug({ brick: local.name, reason: err.reason }, 'local variant cannot do this; running the declared generative brick');
      }
      // Only the ports the declaration has: the built-in may take more (FLUX-FILL's optional pre-fill).
      const given = Object.fromEntries(Object.keys(generative.inputs).map((k) => [k, (inputs as Record<string, unknown>)[k] ?? null]));
      return generative.run(given as never, ctx);
    },
  };
}

/** Whether a manifest brick can stand in for `local`'s GPU requests: every port it needs, the built-in has, with the same type. */
export function fitsBuiltin(local: AnyBrick, declared: AnyBrick): boolean {
  const inputsFit = Object.entries(declared.inputs).every(([k, p]) => local.inputs[k]?.type === p.type || (p.optional === true && !local.inputs[k]));
  const outputsFit = Object.entries(local.outputs).every(([k, p]) => p.optional === true || declared.outputs[k]?.type === p.type);
  return inputsFit && outputsFit;
}

/** `local`, with the requests it refuses for want of a GPU sent through `transport`. */
export function withGpuHost(local: AnyBrick, transport: BrickTransport): AnyBrick {
  const remote = remoteBrick(local, transport);
  return {
    ...local,
    // What it refuses runs on the GPU host: never share cache entries with the same brick unwired, nor with another host.
    backendKey: () => `${local.backendKey?.() ?? 'local'}+gpu-host:${transport.kind}:${transport.target}`,
    async backends(): Promise<BackendStatus[]> {
      const [mine, host] = await Promise.all([local.backends?.() ?? [], remote.backends!()]);
      const line = host[0]!;
      return mine.map((s) => (isGpuHostLine(s) ? gpuHostAs(s, line) : s));
    },
    async run(inputs, ctx) {
      let refused: NeedsGpuHostError;
      try {
        return await local.run(inputs, ctx);
      } catch (err) {
        if (!(err instanceof NeedsGpuHostError)) throw err;
        refused = err;
      }
      ctx.logger.debug({ brick: local.name, target: transport.target, reason: refused.reason }, 'local variant cannot do this; sending it to the GPU host');
      try {
        return await remote.run(inputs, ctx);
      } catch (err) {
        // The worker has the same CPU variant and nothing better: say so, rather than relay its "configure a GPU host".
        if (err instanceof RemoteBrickError && err.code === 'needs-gpu-host') {
          throw new BrickUnavailableError(
            local.name,
            `${refused.reason}, and the GPU host (${transport.kind} ${transport.target}) serves only the CPU variant of ${local.name}`,
            `On the GPU host, serve a generative ${local.name}: a manifest brick of that name (ComfyUI, ONNX) or one from \`lego-edit worker --module\`; see docs/remote.md.`,
          );
        }
        throw err;
      }
    },
  };
}
