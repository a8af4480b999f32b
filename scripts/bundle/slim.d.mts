import type { BuildOptions } from 'esbuild';

/** esbuild options that keep out of a bundle what a pass never loads (see slim.mjs). */
export declare const slimDependencies: Pick<BuildOptions, 'plugins' | 'define'>;
