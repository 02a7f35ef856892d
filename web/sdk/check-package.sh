#!/usr/bin/env bash
# Checks the SDK as its users get it: `npm pack` builds the declarations and packs the package;
# a fresh project installs the tarball and (1) type-checks TypeScript that imports the SDK and its
# wire types through the package's `exports`, with Node's own resolution, and (2) imports it in
# Node and calls the server API against nothing (a network error, as documented). Exits non-zero
# on any failure. Needs the web client's dev dependencies (`npm ci` in web/) for tsc.
set -euo pipefail
cd "$(dirname "$0")"
TSC="$(cd .. && pwd)/node_modules/.bin/tsc"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch" dist' EXIT

tarball="$(npm pack --silent --pack-destination "$scratch" | tail -n1)"
cd "$scratch"
mkdir consumer && cd consumer
printf '{"name":"consumer","private":true,"type":"module"}\n' > package.json
npm install --silent --no-audit --no-fund --offline "../$tarball"

cat > use.ts <<'TS'
import { ConfabClient, ConfabError, ServerApi, isSystemMessage, Timeline, attachmentContent, attachmentMessageType, applicationServerKey, isMuted } from '@confab/sdk';
import type { Attachment, Content, Conversation, Message, PublishRequest, PushSubscription as ServerPushSubscription } from '@confab/sdk/types';

const request: PublishRequest = { content: { type: 'text', text: 'hi' } };
const api = new ServerApi('http://127.0.0.1:9', 'cfk_x');
export async function publish(): Promise<number> {
  const ack = await api.publish('c', request);
  return ack.sequenceNumber;
}
export function notice(m: Message): boolean {
  return isSystemMessage(m);
}
export const kinds = [ConfabClient, ConfabError, Timeline];
export function linked(a: Attachment): Content {
  return attachmentContent(a, { text: 'caption' });
}
export const kind: 'image' | 'video' | 'audio' | 'file' = attachmentMessageType('image/png');
export async function upload(client: ConfabClient, file: Blob): Promise<string> {
  const a = await client.uploadAttachment(file, { onProgress: (sent: number, total: number) => void [sent, total] });
  client.sendAttachment('c', a, { text: 'hi' });
  return a.attachmentId;
}
export async function push(client: ConfabClient, browser: PushSubscription, c: Conversation): Promise<boolean> {
  const { webPushPublicKey } = await client.pushConfig();
  const key: Uint8Array = applicationServerKey(webPushPublicKey || '');
  const made: ServerPushSubscription = await client.subscribeWebPush(browser);
  await client.mute(c.conversationId, Date.now() + 3600_000);
  return key.length > 0 && made.kind === 'webpush' && isMuted(client.conversations.get(c.conversationId));
}
// @ts-expect-error: a publish needs content
api.publish('c', {});
TS
cat > tsconfig.json <<'TS'
{ "compilerOptions": { "strict": true, "noEmit": true, "module": "nodenext", "moduleResolution": "nodenext",
  "target": "es2022", "lib": ["es2023", "dom"], "types": [], "skipLibCheck": false }, "files": ["use.ts"] }
TS
"$TSC" -p tsconfig.json
echo "package types resolve and check (exports, @confab/sdk/types)"

node --input-type=module -e "
import { ServerApi, ConfabError } from '@confab/sdk';
const api = new ServerApi('http://127.0.0.1:9/', 'cfk_x');
try { await api.presence(['a']); process.exit(1); }
catch (e) { if (!(e instanceof ConfabError) || e.code !== 'NETWORK') { console.error(e); process.exit(1); } }
console.log('package imports in Node and reports a network error as ConfabError NETWORK');
"
