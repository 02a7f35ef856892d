// The server API for application backends (Node 18+, or anything with `fetch`): calls made with an
// API key from `confab admin api-key create`, never from a browser (the key would leak).
//
//   import { ServerApi } from 'confab-sdk';
//   const confab = new ServerApi('https://chat.example.com', process.env.CONFAB_API_KEY);
//   await confab.publish(conversationId, { content: { type: 'text', text: 'Deploy finished' } });

import { rest } from './sdk-transport.js';

/** @typedef {import('./types/proto.js').MessageAck} MessageAck */
/** @typedef {import('./types/proto.js').Conversation} Conversation */
/** @typedef {import('./types/proto.js').PublishRequest} PublishRequest */
/** @typedef {import('./types/proto.js').ServerCreateConversationRequest} ServerCreateConversationRequest */
/** @typedef {import('./types/proto.js').ServerAddMembersRequest} ServerAddMembersRequest */
/** @typedef {import('./types/proto.js').ServerPresenceResponse} ServerPresenceResponse */

export class ServerApi {
  /**
   * @param {string} baseUrl  the server's root, e.g. `https://chat.example.com`
   * @param {string} apiKey   `cfk_…`
   */
  constructor(baseUrl, apiKey) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.apiKey = apiKey;
  }

  /**
   * @param {string} method
   * @param {string} path  under `/api/v1/server`
   * @param {unknown} [body]
   */
  call(method, path, body) {
    return rest(this.baseUrl, method, `/server${path}`, { token: this.apiKey, body });
  }

  /**
   * Publishes a message as the member `senderId`, or as the system account without one. Retrying
   * with the same `messageId` answers the stored message.
   * @param {string} conversationId
   * @param {PublishRequest} message
   * @returns {Promise<MessageAck>}
   */
  publish(conversationId, message) {
    return this.call('POST', `/conversations/${encodeURIComponent(conversationId)}/messages`, message);
  }

  /**
   * A direct conversation or a group, created by `creatorId`.
   * @param {ServerCreateConversationRequest} request
   * @returns {Promise<Conversation>}
   */
  createConversation(request) {
    return this.call('POST', '/conversations', request);
  }

  /**
   * Adds members to a group on behalf of `actorId`, or of one of its admins.
   * @param {string} conversationId
   * @param {ServerAddMembersRequest} request
   * @returns {Promise<Conversation>}
   */
  addMembers(conversationId, request) {
    return this.call('POST', `/conversations/${encodeURIComponent(conversationId)}/members`, request);
  }

  /**
   * Removes a member of a group on behalf of `actorId`, or of one of its admins.
   * @param {string} conversationId
   * @param {string} userId
   * @param {string} [actorId]
   * @returns {Promise<void>}
   */
  async removeMember(conversationId, userId, actorId) {
    const query = actorId ? `?actorId=${encodeURIComponent(actorId)}` : '';
    await this.call('DELETE', `/conversations/${encodeURIComponent(conversationId)}/members/${encodeURIComponent(userId)}${query}`);
  }

  /**
   * Signs a user out everywhere: their tokens are revoked and their sockets closed.
   * @param {string} userId
   * @returns {Promise<void>}
   */
  async disconnect(userId) {
    await this.call('POST', `/users/${encodeURIComponent(userId)}/disconnect`);
  }

  /**
   * Presence of up to 100 users across the cluster (unknown ids are left out).
   * @param {string[]} userIds
   * @returns {Promise<ServerPresenceResponse>}
   */
  presence(userIds) {
    return this.call('GET', `/presence?userIds=${userIds.map(encodeURIComponent).join(',')}`);
  }
}
