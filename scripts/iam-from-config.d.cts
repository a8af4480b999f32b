/** Types for scripts/iam-from-config.cjs (CommonJS, loaded by osls through `${file(...)}`). */

/** A CloudFormation value: a literal string or an intrinsic such as `{ 'Fn::Join': [...] }` / `{ Ref: ... }`. */
type CfnValue = string | { [intrinsic: string]: unknown };

interface IamStatement {
  Sid?: string;
  Effect: 'Allow';
  Action: string[];
  Resource: '*' | CfnValue[];
  Condition?: Record<string, Record<string, string>>;
}

interface GenerateOptions {
  /** Customer-managed KMS keys that encrypt the synced secrets. */
  kmsKeyArns?: string[];
}

declare class IamConfigError extends Error {}

declare function generateStatements(config: unknown, options?: GenerateOptions): IamStatement[];
declare function statementsForFile(file: string, options?: GenerateOptions): IamStatement[];
declare function renderArn(value: unknown, context?: { partition?: string; region?: string; account?: string }): string;
declare function splitList(value: unknown): string[];
declare function statements(context: {
  resolveVariable: (address: string) => Promise<unknown>;
}): Promise<IamStatement[]>;

export { generateStatements, IamConfigError, type IamStatement, renderArn, splitList, statements, statementsForFile };
