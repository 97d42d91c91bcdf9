/** `grpo serve`: an OpenAI-compatible HTTP server over the embedded model. */
export { startServer, DEFAULT_PORT, type ServeOptions, type RunningServer } from './server.ts';
export { ServedModel } from './served-model.ts';
export type { ServedChoice, TokenLogprob } from './served-choices.ts';
export type { ServedRequest } from './request-schema.ts';
export { plainChatPrompt, chatPromptText, fitPrompt } from './prompt.ts';
export { ServeError } from './serve-error.ts';
export { TRUNCATION_HEADER } from './completion-handler.ts';
