/**
 * `provider.vpc` from the `subnetIds` and `securityGroupIds` parameters (comma-separated), or no VPC when both are
 * empty. Loaded by osls / Serverless through `${file(./scripts/serverless-vpc.cjs):vpc}`; CommonJS because the
 * `file` variable source require()s it.
 */
'use strict';

const { splitList } = require('./iam-from-config.cjs');

/** The VPC config, or null (no VPC) when neither list is given; one list without the other is a mistake. */
function vpcFromParams(subnetIds, securityGroupIds) {
  const subnets = splitList(subnetIds);
  const groups = splitList(securityGroupIds);
  if (subnets.length === 0 && groups.length === 0) return null;
  if (subnets.length === 0 || groups.length === 0) {
    throw new Error('set both "subnetIds" and "securityGroupIds" to run in a VPC, or neither');
  }
  return { subnetIds: subnets, securityGroupIds: groups };
}

async function vpc({ resolveVariable }) {
  return vpcFromParams(await resolveVariable('param:subnetIds'), await resolveVariable('param:securityGroupIds'));
}

module.exports = { vpc, vpcFromParams };
