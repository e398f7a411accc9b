export const httpErrors = {
  VGL_HTTP_BAD_REQUEST: {
    summary: 'An HTTP request body, query or parameter failed validation.',
    hint: 'The message names the field and the reason; the OpenAPI document at /openapi.json describes every route.',
    status: 400
  },
  VGL_HTTP_NOT_FOUND: {
    summary: 'No route matches the request.',
    hint: 'Check the method and path; /openapi.json lists the routes.',
    status: 404
  },
  VGL_HTTP_PAYLOAD_TOO_LARGE: {
    summary: 'The request body is larger than server.bodyLimitBytes.',
    hint: 'Send smaller batches, or raise server.bodyLimitBytes.',
    status: 413
  },
  VGL_HTTP_INTERNAL: {
    summary: 'An unexpected error happened while answering the request.',
    hint: 'The server logged the cause with the request URL; report it if it repeats.',
    status: 500
  },
  VGL_HTTP_UNAUTHORIZED: {
    summary: 'The request carries no valid API token.',
    hint: 'Send "Authorization: Bearer <token>" with a token from server.apiTokens.',
    status: 401
  }
} as const
