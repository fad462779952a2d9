// Fedify (@fedify/fedify, an independent ActivityPub framework) as a peer of a running Understory
// instance, on loopback. Each check asserts what Fedify parsed, not just a status code.
//
// Fedify -> Understory: WebFinger, signed GET of the actor, Follow -> Accept, then Create,
// Update and Delete of an update and the actor's Update, each accepted only after Fedify verified
// Understory's HTTP signature. Understory -> Fedify: Understory resolves Fedify's account by
// WebFinger, fetches and verifies its actor, follows it (Fedify accepts), and accepts its Follow,
// Like, Announce, reply and Undo.
//
// Usage: node peer.mjs UNDERSTORY_BASE_URL HANDLE CLI...
import http from "node:http";
import { execFile } from "node:child_process";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import {
  Accept, Announce, Create, Delete, Endpoints, Follow, Hashtag, Image, Like, MemoryKvStore, Note, Organization,
  Person, PropertyValue, PUBLIC_COLLECTION, Undo, Update, createFederation, generateCryptoKeyPair, lookupWebFinger,
} from "@fedify/fedify";

const [base, handle, ...cli] = process.argv.slice(2);
let passed = 0;
function check(cond, what) {
  if (!cond) {
    console.log(`FAIL ${what}`);
    console.log(`${passed} passed, 1 failed`);
    process.exit(1);
  }
  passed += 1;
  console.log(`ok   ${what}`);
}
// Asynchronous: the CLI may call back into this process's server (WebFinger, actor fetch).
const run = async (...args) => (await promisify(execFile)(cli[0], [...cli.slice(1), ...args], { encoding: "utf8" })).stdout.trim();

// What Fedify's inbox listeners received, after Fedify verified each signature.
const received = [];
const waiters = [];
function deliver(activity) {
  received.push(activity);
  for (const w of waiters.splice(0)) w();
}
async function receive(type, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const i = received.findIndex((a) => a instanceof type);
    if (i >= 0) return received.splice(i, 1)[0];
    const left = deadline - Date.now();
    if (left <= 0) check(false, `received ${type.name} within ${timeoutMs / 1000}s`);
    await new Promise((resolve) => { waiters.push(resolve); setTimeout(resolve, Math.min(left, 200)); });
  }
}

const keyPair = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
const federation = createFederation({ kv: new MemoryKvStore(), allowPrivateAddress: true });
federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== "fedi") return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier), preferredUsername: identifier, name: "Fedify Peer",
      summary: "An independent implementation", inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }), url: ctx.getActorUri(identifier),
      publicKey: keys[0].cryptographicKey, assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) => (identifier === "fedi" ? [keyPair] : []));
let followedBy = null;
federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Follow, async (ctx, follow) => {
    followedBy = await follow.getActor(ctx);
    await ctx.sendActivity({ identifier: "fedi" }, followedBy, new Accept({
      id: new URL("#accepts/1", ctx.getActorUri("fedi")), actor: ctx.getActorUri("fedi"), object: follow,
    }));
    deliver(follow);
  })
  .on(Accept, async (_ctx, a) => deliver(a))
  .on(Create, async (_ctx, a) => deliver(a))
  .on(Update, async (_ctx, a) => deliver(a))
  .on(Delete, async (_ctx, a) => deliver(a));

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = ["GET", "HEAD"].includes(req.method) ? undefined : Buffer.concat(chunks);
  const request = new Request(`http://localhost:${server.address().port}${req.url}`, { method: req.method, headers: req.headers, body });
  const response = await federation.fetch(request, {
    contextData: undefined,
    onNotFound: () => new Response("not found", { status: 404 }),
    onNotAcceptable: () => new Response("not acceptable", { status: 406 }),
  });
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
});
await new Promise((done) => server.listen(0, "127.0.0.1", done));
const me = `http://localhost:${server.address().port}`;
const ctx = federation.createContext(new URL(me), undefined);
const loader = await ctx.getDocumentLoader({ identifier: "fedi" });

// Fedify resolves the organisation by WebFinger and fetches it with a signed GET.
const avatar = fileURLToPath(new URL("../../src/web/static/avatar.png", import.meta.url));
await run("org", "edit", handle, "--avatar", avatar);
const jrd = await lookupWebFinger(`${base}/@${handle}`, { allowPrivateAddress: true });
const self = jrd?.links?.find((l) => l.rel === "self" && l.type === "application/activity+json");
check(self?.href === `${base}/orgs/${handle}`, "Fedify resolves the organisation by WebFinger");
const org = await ctx.lookupObject(self.href, { documentLoader: loader });
check(org instanceof Organization, "Fedify parses the actor as an Organization (signed GET)");
check(org.preferredUsername === handle && org.inboxId?.href === `${base}/orgs/${handle}/inbox`, "with its username and inbox");
const icon = await org.getIcon({ documentLoader: loader });
check(icon instanceof Image && icon.url?.href.startsWith(`${base}/media/`), "and its avatar as an Image served by the instance");
const key = await org.getPublicKey({ documentLoader: loader });
check(key?.ownerId?.href === org.id.href, "and its public key, owned by the actor");

// Follow -> Accept.
const follow = new Follow({ id: new URL("#follows/1", ctx.getActorUri("fedi")), actor: ctx.getActorUri("fedi"), object: org.id });
await ctx.sendActivity({ identifier: "fedi" }, org, follow);
const accept = await receive(Accept);
// The Follow is embedded; Fedify reads its id (it refetches objects from another origin).
check(accept.actorId?.href === org.id.href && accept.objectId?.href === follow.id.href, "Accept (signature verified by Fedify) names Fedify's Follow");
check((await run("org", "followers", handle)).split("\n").includes(ctx.getActorUri("fedi").href), "Understory lists Fedify as a follower");

// Create, Update and Delete of an update, and Update of the actor.
const url = await run("org", "post", handle, "Food bank hours for #WinterSupport in Leeds", "--attach", avatar, "--alt", "Our logo, a green square");
const create = await receive(Create);
const note = await create.getObject({ documentLoader: loader });
check(note instanceof Note && note.id?.href === url, "Create carries the Note");
check(note.content?.toString().includes("Food bank hours"), "Fedify reads its content");
const tags = [];
for await (const t of note.getTags({ documentLoader: loader })) if (t instanceof Hashtag) tags.push(t.name?.toString());
check(tags.includes("#wintersupport"), `Fedify reads its hashtag (${tags})`);
check(note.toIds.some((id) => id.href === PUBLIC_COLLECTION.href), "addressed to Public");
const attachments = [];
for await (const a of note.getAttachments({ documentLoader: loader })) attachments.push(a);
check(attachments.length === 1 && attachments[0] instanceof Image && attachments[0].name?.toString() === "Our logo, a green square",
  "Fedify reads the attachment as an Image with its alt text");
check(attachments[0].mediaType === "image/png" || attachments[0].mediaType === "image/jpeg", `with a media type (${attachments[0].mediaType})`);
const id = url.split("/").pop();
await run("org", "edit-post", handle, id, "Food bank hours for #WinterSupport in Leeds and Bradford");
const update = await receive(Update);
const edited = await update.getObject({ documentLoader: loader });
check(edited instanceof Note && edited.content?.toString().includes("Bradford") && edited.updated && edited.published
  && edited.updated.epochMilliseconds >= edited.published.epochMilliseconds, "Update carries the edit with a newer updated");
const profileFile = join(mkdtempSync(join(tmpdir(), "fedify-")), "profile.json");
writeFileSync(profileFile, JSON.stringify({
  summary: "Now with a summary Fedify reads", website: "https://acme.example", themes: ["HousingAndHomelessness"],
  places: ["GB-LDS"], listed_in: "public",
}));
await run("org", "import-profile", handle, profileFile);
const profile = await receive(Update);
const newActor = await profile.getObject({ documentLoader: loader });
check(newActor instanceof Organization && newActor.summary?.toString().includes("Fedify reads"), "Update of the actor carries the new summary");
const fields = [];
for await (const a of newActor.getAttachments({ documentLoader: loader })) if (a instanceof PropertyValue) fields.push(a.name?.toString());
check(fields.includes("Website") && fields.includes("Themes") && fields.length <= 6,
  `profile fields are PropertyValues Fedify reads, at most six (${fields})`);
await run("org", "delete-post", handle, id);
const deletion = await receive(Delete);
check(deletion.objectId?.href === url, "Delete names the update");

// Understory -> Fedify: resolve by WebFinger, fetch and verify the actor, follow.
await run("org", "follow", handle, `fedi@localhost:${server.address().port}`);
const theirFollow = await receive(Follow);
check(theirFollow.actorId?.href === org.id.href && theirFollow.objectId?.href === ctx.getActorUri("fedi").href,
  "Understory resolves Fedify's account and sends a Follow Fedify verifies");
let state = "";
for (let i = 0; i < 100 && !state.includes("accepted"); i++) {
  state = await run("org", "following", handle);
  if (!state.includes("accepted")) await new Promise((r) => setTimeout(r, 100));
}
check(state.includes(`${ctx.getActorUri("fedi").href} accepted`), "Understory takes Fedify's Accept");

// Like, Announce, reply and Undo from Fedify.
const target = await run("org", "post", handle, "Volunteers wanted for #WinterSupport");
const targetNote = new URL(target);
const like = new Like({ id: new URL("#likes/1", ctx.getActorUri("fedi")), actor: ctx.getActorUri("fedi"), object: targetNote });
await ctx.sendActivity({ identifier: "fedi" }, org, like);
await ctx.sendActivity({ identifier: "fedi" }, org, new Announce({
  id: new URL("#announces/1", ctx.getActorUri("fedi")), actor: ctx.getActorUri("fedi"), object: targetNote, to: PUBLIC_COLLECTION,
}));
const reply = new Note({
  id: new URL("/notes/1", me), attribution: ctx.getActorUri("fedi"), replyTarget: targetNote, to: PUBLIC_COLLECTION,
  content: "<p>We can help on Saturdays</p>",
});
await ctx.sendActivity({ identifier: "fedi" }, org, new Create({
  id: new URL("/notes/1/activity", me), actor: ctx.getActorUri("fedi"), object: reply, to: PUBLIC_COLLECTION,
}));
const counted = await ctx.lookupObject(target, { documentLoader: loader });
const likes = await counted.getLikes({ documentLoader: loader });
const shares = await counted.getShares({ documentLoader: loader });
check(likes?.totalItems === 1 && shares?.totalItems === 1, `Understory counts Fedify's Like and Announce (${likes?.totalItems}, ${shares?.totalItems})`);
const page = await (await fetch(target, { headers: { accept: "text/html" } })).text();
check(page.includes("We can help on Saturdays") && page.includes("Fedify Peer"), "Fedify's reply shows on the update's page");
await ctx.sendActivity({ identifier: "fedi" }, org, new Undo({
  id: new URL("#undo/1", ctx.getActorUri("fedi")), actor: ctx.getActorUri("fedi"), object: like,
}));
const after = await (await ctx.lookupObject(target, { documentLoader: loader })).getLikes({ documentLoader: loader });
check(after?.totalItems === 0, "Undo of the Like is taken");

server.close();
console.log(`${passed} passed, 0 failed`);
process.exit(0);
