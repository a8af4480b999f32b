/** Types for scripts/serverless-vpc.cjs (CommonJS, loaded by osls through `${file(...)}`). */
declare function vpcFromParams(
  subnetIds: unknown,
  securityGroupIds: unknown,
): { subnetIds: string[]; securityGroupIds: string[] } | null;
declare function vpc(context: {
  resolveVariable: (address: string) => Promise<unknown>;
}): Promise<ReturnType<typeof vpcFromParams>>;

export { vpc, vpcFromParams };
