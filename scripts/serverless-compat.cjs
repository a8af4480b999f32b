/**
 * Local osls plugin: lets one serverless.yml serve osls 4.x and Serverless Framework v4.
 *
 * v4 needs `build: { esbuild: false }` so that it packages our prebuilt dist/ instead of bundling again; osls does
 * not know the `build` block and, with `configValidationMode: error`, refuses it. This declares it to osls (as an
 * inert object) and does nothing where the framework already defines it. CommonJS: plugins are require()d.
 */
'use strict';

class ServerlessCompat {
  constructor(serverless) {
    const schemaHandler = serverless.configSchemaHandler;
    const properties = schemaHandler?.schema?.properties;
    if (properties !== undefined && properties.build === undefined) {
      schemaHandler.defineTopLevelProperty('build', {
        type: 'object',
        properties: { esbuild: { anyOf: [{ type: 'boolean' }, { type: 'object' }] } },
        additionalProperties: false,
      });
    }
  }
}

module.exports = ServerlessCompat;
