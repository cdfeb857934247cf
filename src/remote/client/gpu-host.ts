/**
 * Built-ins with a GPU-host backend, once a transport or a manifest brick
 * provides one. Where each request runs is decided before anything runs, by
 * the route (LEGO_EDIT_GPU_ROUTES, else the brick's own, else cpu-first):
 * "cpu" and "gpu" send everything one way; "cpu-first" asks the brick's
 * `gpuNeed` whether its CPU variant can do these inputs (FLUX-STYLE "sepia")
 * or they need the GPU (FLUX-STYLE "Ghibli"). The decision, with its reason,
 * goes to the log; `routeText` says the rule for `lego-edit bricks`.
 */
import { gpuHostAs, isGpuHostLine } from '../../../bricks/lib/backends.ts';
import type { AnyBrick, BackendStatus, BrickContext, GpuRoute } from '../../engine/brick.ts';
import type { Value } from '../../engine/values.ts';
import { BrickUnavailableError, LegoEditError } from '../../engine/errors.ts';
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

/** Errors that mean the GPU backend cannot be reached now (not that it refused the request). */
const UNREACHABLE = new Set(['comfyui-unavailable', 'worker-unavailable', 'queue-unavailable']);

/** Where one request runs, and why. */
export interface RouteDecision {
  readonly backend: 'cpu' | 'gpu';
  readonly why: string;
  /** What the inputs need the GPU for, when the CPU variant cannot do them. */
  readonly need?: string;
}

/** Decides where `inputs` run on `local` under `route`, before anything runs. */
export function decideRoute(local: AnyBrick, route: GpuRoute, inputs: Parameters<AnyBrick['run']>[0]): RouteDecision {
  if (route === 'cpu') return { backend: 'cpu', why: 'routed cpu' };
  if (route === 'gpu') return { backend: 'gpu', why: 'routed gpu' };
  const need = local.gpuNeed?.(inputs);
  return need ? { backend: 'gpu', why: `cpu-first: ${need} needs the GPU`, need } : { backend: 'cpu', why: 'cpu-first: the CPU variant can do this' };
}

/** The route's rule in words, for `lego-edit bricks`. */
export function routeText(brick: AnyBrick): string | undefined {
  switch (brick.gpuRoute) {
    case undefined:
      return undefined;
    case 'cpu':
      return 'cpu — every request runs on the CPU variant';
    case 'gpu':
      return 'gpu — every request runs on the GPU backend; the CPU variant only while that cannot be reached, with a warning';
    case 'cpu-first':
      return brick.gpuNeed
        ? 'cpu-first — the CPU variant runs what it can do (see its backend line); what it cannot goes to the GPU backend, and the log says which and why per step'
        : 'cpu-first — every request runs on the CPU variant (it takes them all)';
  }
}

/**
 * Runs a request where `decideRoute` sends it. A "gpu" route falls back to
 * the CPU variant, with a warning, while the GPU backend cannot be reached; a
 * request only the GPU can do has no such fallback.
 */
async function runRouted(
  local: AnyBrick,
  gpu: (inputs: Parameters<AnyBrick['run']>[0], ctx: BrickContext, need?: string) => ReturnType<AnyBrick['run']>,
  route: GpuRoute,
  inputs: Parameters<AnyBrick['run']>[0],
  ctx: BrickContext,
): ReturnType<AnyBrick['run']> {
  const decision = decideRoute(local, route, inputs);
  ctx.logger.info({ brick: local.name, backend: decision.backend, route, why: decision.why }, `${local.name} runs on the ${decision.backend === 'gpu' ? 'GPU backend' : 'CPU variant'}`);
  // Through the executor when it runs this step: a CPU-heavy variant then runs in the worker-thread pool, off the event loop.
  const runCpu = (): ReturnType<AnyBrick['run']> => (ctx.runBrick ? (ctx.runBrick(local, inputs as Record<string, Value | null>) as ReturnType<AnyBrick['run']>) : local.run(inputs, ctx));
  if (decision.backend === 'cpu') return runCpu();
  if (decision.need) return gpu(inputs, ctx, decision.need);
  try {
    return await gpu(inputs, ctx);
  } catch (err) {
    if (!(err instanceof LegoEditError && UNREACHABLE.has(err.code)) || ctx.signal.aborted) throw err;
    // Routed gpu, but the CPU variant cannot do these inputs either: the unreachable host is the answer.
    if (local.gpuNeed?.(inputs)) throw err;
    ctx.logger.warn({ brick: local.name, err: err.message }, 'GPU backend unreachable; running the CPU variant');
    ctx.warn?.(`${local.name}: the GPU host could not be reached, so the CPU variant did this step.`);
    return runCpu();
  }
}

/** The route for `brick`: the configuration's, else the brick's own, else cpu-first. */
export function routeOf(brick: AnyBrick, configured: ReadonlyMap<string, GpuRoute>): GpuRoute {
  return configured.get(brick.name.toUpperCase()) ?? brick.gpuRoute ?? 'cpu-first';
}

/** LEGO_EDIT_GPU_ROUTES ("FLUX-INPAINT=gpu,FLUX-STYLE=cpu") as a map by upper-case brick name. */
export function parseGpuRoutes(setting: string | undefined): Map<string, GpuRoute> {
  const out = new Map<string, GpuRoute>();
  for (const part of (setting ?? '').split(',')) {
    const [name, route] = part.split('=').map((s) => s.trim());
    if (name && (route === 'gpu' || route === 'cpu-first' || route === 'cpu')) out.set(name.toUpperCase(), route);
  }
  return out;
}

/**
 * `local`, with a GPU backend beside it: a manifest brick of the same name
 * (ComfyUI, ONNX, a declared worker), used as `route` says. With cpu-first the
 * CPU variant keeps what it can do ("sepia" stays local even when ComfyUI is
 * down); the catalogue keeps the built-in's declaration.
 */
export function withGenerativeBackend(local: AnyBrick, generative: AnyBrick, route: GpuRoute = routeOf(local, new Map())): AnyBrick {
  // Only the ports the declaration has: the built-in may take more (FLUX-FILL's optional pre-fill).
  const gpu = (inputs: Parameters<AnyBrick['run']>[0], ctx: BrickContext) =>
    generative.run(Object.fromEntries(Object.keys(generative.inputs).map((k) => [k, (inputs as Record<string, unknown>)[k] ?? null])) as never, ctx);
  return {
    ...local,
    gpuRoute: route,
    ...(generative.timeoutMs !== undefined && route !== 'cpu' ? { timeoutMs: generative.timeoutMs } : {}),
    backendKey: () => `${local.backendKey?.() ?? 'local'}+${route}:${generative.name}@${generative.version}`,
    async backends(): Promise<BackendStatus[]> {
      const [mine, theirs] = await Promise.all([local.backends?.() ?? [], generative.backends?.() ?? [{ name: 'declared', available: true }]]);
      const host = mine.flatMap((s) => (isGpuHostLine(s) ? theirs.map((t) => gpuHostAs(s, t)) : [s]));
      if (route === 'cpu') return mine.filter((s) => !isGpuHostLine(s));
      // "gpu": the GPU backend is what this brick is; list it first so it is the active one when it can run.
      if (route === 'gpu') return [...host.filter((s) => !mine.includes(s)), ...host.filter((s) => mine.includes(s))];
      return host;
    },
    run: (inputs, ctx) => runRouted(local, gpu, route, inputs, ctx),
  };
}

/** Whether a manifest brick can stand in for `local`'s GPU requests: every port it needs, the built-in has, with the same type. */
export function fitsBuiltin(local: AnyBrick, declared: AnyBrick): boolean {
  const inputsFit = Object.entries(declared.inputs).every(([k, p]) => local.inputs[k]?.type === p.type || (p.optional === true && !local.inputs[k]));
  const outputsFit = Object.entries(local.outputs).every(([k, p]) => p.optional === true || declared.outputs[k]?.type === p.type);
  return inputsFit && outputsFit;
}

/** `local`, with the requests its `gpuNeed` says need a GPU (all, when routed gpu) sent through `transport`. */
export function withGpuHost(local: AnyBrick, transport: BrickTransport, route: GpuRoute = routeOf(local, new Map())): AnyBrick {
  const remote = remoteBrick(local, transport);
  return {
    ...local,
    gpuRoute: route,
    // What needs a GPU runs on the GPU host: never share cache entries with the same brick unwired, nor with another host.
    backendKey: () => `${local.backendKey?.() ?? 'local'}+gpu-host${route === 'cpu-first' ? '' : `(${route})`}:${transport.kind}:${transport.target}`,
    async backends(): Promise<BackendStatus[]> {
      const [mine, host] = await Promise.all([local.backends?.() ?? [], remote.backends!()]);
      const line = host[0]!;
      return mine.map((s) => (isGpuHostLine(s) ? gpuHostAs(s, line) : s));
    },
    run: (inputs, ctx) =>
      runRouted(
        local,
        async (i, c, need) => {
          try {
            return await remote.run(i, c);
          } catch (err) {
            // The worker has the same CPU variant and nothing better: say so, rather than relay its "configure a GPU host".
            if (err instanceof RemoteBrickError && err.code === 'needs-gpu-host') {
              throw new BrickUnavailableError(
                local.name,
                `${need ? `${need} needs a GPU host, and ` : ''}the GPU host (${transport.kind} ${transport.target}) serves only the CPU variant of ${local.name}`,
                `On the GPU host, serve a generative ${local.name}: a manifest brick of that name (ComfyUI, ONNX) or one from \`lego-edit worker --module\`; see docs/remote.md.`,
              );
            }
            throw err;
          }
        },
        route,
        inputs,
        ctx,
      ),
  };
}
