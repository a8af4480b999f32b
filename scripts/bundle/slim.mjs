/**
 * esbuild options that keep out of a bundle what a pass never loads, shared by scripts/build.mjs and the tests that
 * bundle a handler (crash points), so that those tests run what Lambda runs.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const CLIENT_NODE = /[\\/]@kubernetes[\\/]client-node[\\/]/;

/**
 * @kubernetes/client-node's index re-exports modules a pass never loads (exec, attach, cp, port-forward, their
 * WebSocket and tar dependencies) and, not declaring itself free of side effects, keeps them all in the bundle.
 * Its modules only define things at load, so they are marked side-effect free: what is not imported goes. Its
 * `undici` is the three things it uses (undici-for-client-node.cjs), not undici's whole index.
 */
const clientNodeSlim = {
  name: 'client-node-slim',
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, (args) =>
      CLIENT_NODE.test(args.importer) ? { path: join(here, 'undici-for-client-node.cjs') } : undefined,
    );
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData?.resolving || (args.path !== '@kubernetes/client-node' && !CLIENT_NODE.test(args.importer))) {
        return undefined;
      }
      const { path, external, namespace, errors } = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: { resolving: true },
      });
      if (errors.length > 0 || !CLIENT_NODE.test(path)) return undefined;
      return { path, external, namespace, sideEffects: false };
    });
  },
};

/** @type {Pick<import('esbuild').BuildOptions, 'plugins' | 'define'>} */
export const slimDependencies = {
  plugins: [clientNodeSlim],
  // undici skips its experimental Milo HTTP parser (two WebAssembly builds, 150 KiB) when built by esbuild as in
  // Node's own bundle; it parses with llhttp, as Node's built-in fetch does.
  define: { esbuildDetection: 'true' },
};
