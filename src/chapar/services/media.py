"""Media: resumable uploads in parts, turning an upload into a message in any chat kind,
and downloads with access checks, ranges and signed URLs.

Every byte that reaches the blob store is encrypted (AES-256-CTR, protocol/filecrypt.py)
with a key that lives only in the database: upload parts under the upload's key, stored
files under the file's own key. Files are deduplicated by the SHA-256 of their content,
so the same photo sent twice is stored once and a forward reuses the file. See docs/media.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass

import msgspec
import structlog

from chapar.config import Settings
from chapar.db import chats as chats_db
from chapar.db import media as db
from chapar.db import messages as msgs_db
from chapar.db import users as users_db
from chapar.domain import images
from chapar.edge.token import TokenError, TokenSigner, TokenVerifier
from chapar.errors import BadRequest, FloodWait, Forbidden, NotFound, PayloadTooLarge, Unauthorized
from chapar.ports.blobs import BlobStore
from chapar.ports.store import Tx
from chapar.protocol import chat_methods as cm
from chapar.protocol import filecrypt
from chapar.protocol import methods as m
from chapar.protocol.types import Media, MediaKind, PhotoSize
from chapar.services.auth import AuthContext
from chapar.services.chat_messages import ChatMessagesService
from chapar.services.chats import load_member, load_visible
from chapar.services.deps import Deps
from chapar.services.messages import post_private
from chapar.services.peers import not_one_peer

log = structlog.get_logger(__name__)
_enc = msgspec.json.Encoder()
_media = msgspec.json.Decoder(Media)
DAY = 86_400


def upload_key(user_id: int, file_id: int, n: int) -> str:
    return f"up/{user_id}/{file_id}/{n}"


def file_key(file_id: int, n: int) -> str:
    return f"f/{file_id}/{n}"


def infer_kind(mime: str) -> MediaKind:
    if mime in ("image/jpeg", "image/png", "image/webp"):
        return "photo"
    if mime.startswith("video/"):
        return "video"
    if mime in ("audio/ogg", "audio/opus"):
        return "voice"
    return "document"


def goes_to_edges(s: Settings, chat: chats_db.ChatRow | None) -> bool:
    """The origin's CDN policy: whether a file seen in this chat is served through edges.

    By default only posts of public broadcast channels with many subscribers: that is where
    one file meets many downloaders and an edge saves the origin most, and where nothing
    private is at stake (anyone may read a public channel). "all" puts every file on the
    edges, which the tests use; it stays safe because edges only ever see ciphertext."""
    if not s.cdn_edges or s.cdn_policy == "off":
        return False
    if s.cdn_policy == "all":
        return True
    return (
        chat is not None
        and chat.broadcast
        and chat.username is not None
        and chat.members_count >= s.cdn_min_subscribers
    )


def pick_edge(edges: str, file_id: int) -> str:
    """Rendezvous hashing: each file has one edge (its cache is not split across edges),
    and adding or removing an edge moves only that edge's share of files."""
    urls = [u.strip().rstrip("/") for u in edges.split(",") if u.strip()]
    return max(urls, key=lambda u: hashlib.sha256(f"{u}|{file_id}".encode()).digest())


@dataclass(frozen=True)
class Located:
    """A file a viewer may read, found through the message that carries it."""

    file: db.StoredFile
    name: str | None
    # The group or channel the message is in (None: a private chat), for the CDN policy.
    chat: chats_db.ChatRow | None = None


class MediaService:
    def __init__(self, deps: Deps, blobs: BlobStore, chat: ChatMessagesService) -> None:
        self.d = deps
        self.s = deps.settings
        self.blobs = blobs
        self.chat = chat
        self._url_key: bytes | None = None
        self._cdn_signer: TokenSigner | None = None
        self._cdn_verifier: TokenVerifier | None = None

    # -- upload -----------------------------------------------------------------------------
    async def save_part(
        self, ctx: AuthContext, file_id: int, n: int, data: bytes, total: int | None
    ) -> bool:
        me, now = ctx.user_id, self.d.now()
        if len(data) > filecrypt.PART_SIZE:
            raise PayloadTooLarge(
                "FILE_PART_TOO_BIG", f"a part holds at most {filecrypt.PART_SIZE} bytes"
            )
        if not data:
            raise BadRequest("FILE_PART_EMPTY", "a part cannot be empty")
        if total is not None and not 1 <= total <= self.s.max_file_parts:
            raise BadRequest("FILE_PARTS_INVALID", f"a file has 1 to {self.s.max_file_parts} parts")
        if not 0 <= n < self.s.max_file_parts:
            raise BadRequest(
                "FILE_PART_INVALID", f"part numbers run from 0 to {self.s.max_file_parts - 1}"
            )
        key, iv = filecrypt.new_key()
        up = await self.d.store.write(
            lambda tx: db.start_upload(tx, me, file_id, key, iv, total, now)
        )
        if up.total_parts is not None and n >= up.total_parts:
            raise BadRequest(
                "FILE_PART_INVALID",
                f"this file has {up.total_parts} parts (0 to {up.total_parts - 1})",
            )
        await self.blobs.put(
            upload_key(me, file_id, n), filecrypt.crypt_part(up.enc_key, up.enc_iv, n, data)
        )
        await self.d.store.write(lambda tx: db.record_part(tx, me, file_id, n, len(data)))
        return True

    async def uploaded_parts(self, ctx: AuthContext, p: cm.GetUploadedParts) -> cm.UploadedParts:
        def read(tx: Tx) -> cm.UploadedParts:
            up = db.get_upload(tx, ctx.user_id, p.file_id)
            parts = db.parts(tx, ctx.user_id, p.file_id)
            return cm.UploadedParts(parts=sorted(parts), total_parts=up.total_parts if up else None)

        return await self.d.store.read(read)

    async def _upload_bytes(self, me: int, file_id: int, up: db.Upload, n: int) -> bytes:
        enc = await self.blobs.get(upload_key(me, file_id, n))
        if enc is None:
            raise BadRequest("FILE_PART_MISSING", f"part {n} is missing; upload it again")
        return filecrypt.crypt_part(up.enc_key, up.enc_iv, n, enc)

    # -- store a file -----------------------------------------------------------------------
    async def _store(
        self,
        me: int,
        chunks: AsyncIterator[bytes],
        sha256: str,
        size: int,
        mime: str,
        width: int | None,
        height: int | None,
    ) -> db.StoredFile:
        """Encrypt under a new key and store, unless the same content is stored already."""
        existing = await self.d.store.read(lambda tx: db.file_by_hash(tx, sha256))
        if existing is not None:
            async for _ in chunks:  # drain: nothing to store
                pass
            return existing
        fid = await self.d.store.write(db.next_file_id)
        key, iv = filecrypt.new_key()
        hashes: list[str] = []
        n = 0
        async for chunk in chunks:
            enc = filecrypt.crypt_part(key, iv, n, chunk)
            hashes.append(filecrypt.part_hash(enc))
            await self.blobs.put(file_key(fid, n), enc)
            n += 1
        f = db.StoredFile(fid, sha256, size, mime, key, iv, n, hashes, width, height)
        now = self.d.now()
        stored = await self.d.store.write(lambda tx: db.insert_file(tx, f, me, now))
        if stored.id != fid:  # the same content was stored concurrently: keep that copy
            await self.blobs.delete([file_key(fid, i) for i in range(n)])
        return stored

    async def _store_bytes(
        self, me: int, data: bytes, mime: str, w: int | None = None, h: int | None = None
    ) -> db.StoredFile:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(0, len(data), filecrypt.PART_SIZE):
                yield data[i : i + filecrypt.PART_SIZE]

        return await self._store(
            me, chunks(), hashlib.sha256(data).hexdigest(), len(data), mime, w, h
        )

    # -- send -------------------------------------------------------------------------------
    async def _first_result(self, me: int, p: cm.SendMedia) -> m.SentMessage | None:
        def read(tx: Tx) -> m.SentMessage | None:
            if p.peer.chat_id is not None:
                row = chats_db.message_by_random_id(tx, p.peer.chat_id, me, p.random_id)
                chat = chats_db.get(tx, p.peer.chat_id)
                if row is None or chat is None:
                    return None
                pts = chats_db.post_pts(tx, chat.id, row.id) or chat.pts  # the post's own pts
                return m.SentMessage(message=row.to_wire(me, None, chat.broadcast), pts=pts)
            first = msgs_db.by_random_id(tx, me, p.random_id)
            return m.SentMessage(message=first.to_wire(), pts=first.pts) if first else None

        return await self.d.store.read(read)

    async def send(self, ctx: AuthContext, p: cm.SendMedia) -> m.SentMessage:
        me, now = ctx.user_id, self.d.now()
        if (p.peer.user_id is None) == (p.peer.chat_id is None):
            raise not_one_peer()
        if len(p.caption) > self.s.max_caption_length or "\x00" in p.caption:
            raise BadRequest(
                "MEDIA_CAPTION_TOO_LONG",
                f"a caption holds at most {self.s.max_caption_length} characters",
            )
        first = await self._first_result(me, p)
        if first is not None:  # a retry: the first result, nothing new
            return first
        await self._check_may_post(me, p, now)  # before any work, so a refusal stores nothing
        f = p.file

        def read_upload(tx: Tx) -> tuple[db.Upload | None, dict[int, int]]:
            return db.get_upload(tx, me, f.id), db.parts(tx, me, f.id)

        up, parts = await self.d.store.read(read_upload)
        if up is None:
            raise BadRequest("FILE_ID_INVALID", "no upload with this id; upload its parts first")
        if up.total_parts is not None and up.total_parts != f.parts:
            raise BadRequest("FILE_PARTS_INVALID", f"the upload declared {up.total_parts} parts")
        missing = [i for i in range(f.parts) if i not in parts]
        if missing:
            raise BadRequest("FILE_PART_MISSING", f"parts missing: {missing[:20]}")
        if any(parts[i] != filecrypt.PART_SIZE for i in range(f.parts - 1)):
            raise BadRequest(
                "FILE_PARTS_INVALID", f"every part but the last must be {filecrypt.PART_SIZE} bytes"
            )
        size = sum(parts[i] for i in range(f.parts))
        if size > self.s.max_file_bytes:
            raise BadRequest("FILE_TOO_BIG", f"a file holds at most {self.s.max_file_bytes} bytes")
        day = now // DAY
        used = await self.d.store.read(lambda tx: db.usage(tx, me, day))
        if used + size > self.s.daily_upload_bytes:
            raise FloodWait(DAY - now % DAY, "the daily upload allowance is used up")
        kind = p.type or infer_kind(f.mime_type)
        media = await self._make_media(me, up, f, kind, size, p.duration)
        media_json = _enc.encode(media).decode()

        def write(
            tx: Tx, pushes: list[tuple[str, bytes]], moves: list[tuple[int, int, bool]]
        ) -> m.SentMessage:
            db.add_usage(tx, me, day, size)
            db.drop_upload(tx, me, f.id)
            if p.peer.chat_id is not None:
                return self.chat.post(
                    tx,
                    me,
                    p.peer.chat_id,
                    p.caption,
                    p.random_id,
                    p.reply_to,
                    None,
                    now,
                    pushes,
                    media_json,
                )
            peer = p.peer.user_id
            assert peer is not None
            if not users_db.exists(tx, peer):
                raise BadRequest("PEER_ID_INVALID", "no such user")
            return post_private(
                tx, me, peer, p.caption, p.random_id, p.reply_to, None, now, pushes, media_json
            )

        result = await self.chat.chats.write(write)
        await self.blobs.delete([upload_key(me, f.id, i) for i in range(f.parts)])
        return result

    async def _check_may_post(self, me: int, p: cm.SendMedia, now: int) -> None:
        def read(tx: Tx) -> None:
            if p.peer.chat_id is not None:
                chat, member = load_member(tx, p.peer.chat_id, me, now)
                if not member.may_post(chat.broadcast, now):
                    raise Forbidden("CHAT_WRITE_FORBIDDEN", "you may not post in this chat")
            elif p.peer.user_id is not None and not users_db.exists(tx, p.peer.user_id):
                raise BadRequest("PEER_ID_INVALID", "no such user")

        await self.d.store.read(read)

    async def _make_media(
        self,
        me: int,
        up: db.Upload,
        f: cm.InputFile,
        kind: MediaKind,
        size: int,
        duration: int | None,
    ) -> Media:
        name = f.name.strip() or None
        if kind in ("photo", "sticker"):
            if size > self.s.max_photo_bytes:
                raise BadRequest("PHOTO_TOO_BIG", "send a photo this large as a document")
            raw = b"".join([await self._upload_bytes(me, f.id, up, n) for n in range(f.parts)])
            photo = await asyncio.to_thread(images.process_photo, raw, f.mime_type)
            stored = await self._store_bytes(
                me, photo.data, photo.mime_type, photo.width, photo.height
            )
            thumbs = []
            for t in photo.thumbs:
                tf = await self._store_bytes(me, t.data, "image/jpeg", t.width, t.height)
                thumbs.append(
                    PhotoSize(type=t.type, file_id=tf.id, w=t.width, h=t.height, size=tf.size)
                )
            return Media(
                type=kind,
                file_id=stored.id,
                size=stored.size,
                mime_type=photo.mime_type,
                name=name,
                width=photo.width,
                height=photo.height,
                thumbs=thumbs,
            )
        # Other files stream through: one pass for the content hash, one to store.
        digest = hashlib.sha256()
        for n in range(f.parts):
            digest.update(await self._upload_bytes(me, f.id, up, n))

        async def chunks() -> AsyncIterator[bytes]:
            for n in range(f.parts):
                yield await self._upload_bytes(me, f.id, up, n)

        stored = await self._store(me, chunks(), digest.hexdigest(), size, f.mime_type, None, None)
        return Media(
            type=kind,
            file_id=stored.id,
            size=size,
            mime_type=f.mime_type,
            name=name,
            duration=duration,
        )

    # -- download ---------------------------------------------------------------------------
    async def locate(
        self, user_id: int, chat_id: int | None, msg_id: int, thumb: str | None
    ) -> Located:
        """The file of a message the user can see (private: their own box), or an error."""
        now = self.d.now()

        def read(tx: Tx) -> Located:
            media_json: str | None
            chat = None
            if chat_id is None:
                row = msgs_db.get(tx, user_id, msg_id)
                media_json = row.media if row else None
            else:
                chat, _ = load_visible(tx, chat_id, user_id, now)
                crow = chats_db.get_message(tx, chat_id, msg_id)
                media_json = crow.media if crow else None
            if not media_json:
                raise NotFound("MEDIA_NOT_FOUND", "no such message with media here")
            media = _media.decode(media_json)
            fid = media.file_id
            if thumb is not None:
                t = next((t for t in media.thumbs if t.type == thumb), None)
                if t is None:
                    raise NotFound("THUMB_NOT_FOUND", "this media has no such thumbnail")
                fid = t.file_id
            stored = db.get_file(tx, fid)
            if stored is None:
                raise NotFound("MEDIA_NOT_FOUND", "the file is gone")
            return Located(stored, media.name if thumb is None else None, chat)

        return await self.d.store.read(read)

    async def read_range(self, f: db.StoredFile, start: int, end: int) -> AsyncIterator[bytes]:
        """Plaintext bytes [start, end) of a stored file, part by part."""
        size = filecrypt.PART_SIZE
        for n in range(start // size, (end - 1) // size + 1):
            enc = await self.blobs.get(file_key(f.id, n))
            if enc is None:
                raise NotFound("MEDIA_NOT_FOUND", "a part of the file is missing")
            plain = filecrypt.crypt_part(f.enc_key, f.enc_iv, n, enc)
            lo, hi = max(start - n * size, 0), min(end - n * size, len(plain))
            yield plain[lo:hi]

    # -- signed URLs --------------------------------------------------------------------------
    async def _key(self) -> bytes:
        if self._url_key is None:
            self._url_key = await self.d.store.write(lambda tx: db.secret(tx, "media_url"))
        return self._url_key

    def _sign(self, key: bytes, user_id: int, path: str, exp: int) -> str:
        return hmac.new(key, f"{user_id}:{path}:{exp}".encode(), hashlib.sha256).hexdigest()[:40]

    async def signed_url(self, ctx: AuthContext, p: cm.GetMediaUrl) -> cm.MediaUrl:
        chat_id = p.peer.chat_id
        found = await self.locate(ctx.user_id, chat_id, p.msg_id, p.thumb)  # may the user see it?
        path = f"/api/media/c/{chat_id}/{p.msg_id}" if chat_id else f"/api/media/p/{p.msg_id}"
        exp = self.d.now() + self.s.media_url_ttl_seconds
        thumb = f"&thumb={p.thumb}" if p.thumb else ""
        sig = self._sign(
            await self._key(), ctx.user_id, path + (f"?thumb={p.thumb}" if p.thumb else ""), exp
        )
        url = f"{path}?uid={ctx.user_id}&exp={exp}&sig={sig}{thumb}"
        cdn = None
        if p.cdn_supported and goes_to_edges(self.s, found.chat):
            cdn = await self.cdn_redirect(found.file)
        return cm.MediaUrl(url=url, expires=exp, cdn=cdn)

    # -- CDN edges (docs/media.md) --------------------------------------------------------------
    async def _signer(self) -> TokenSigner:
        if self._cdn_signer is None:
            seed = await self.d.store.write(lambda tx: db.secret(tx, "cdn"))
            self._cdn_signer = TokenSigner(seed)
            self._cdn_verifier = TokenVerifier(self._cdn_signer.public_key)
        return self._cdn_signer

    async def cdn_public_key(self) -> str:
        """The key edges check tokens with (public: it cannot make tokens)."""
        return (await self._signer()).public_key.hex()

    async def cdn_redirect(self, f: db.StoredFile) -> cm.CdnRedirect:
        """Telegram's upload.fileCdnRedirect: the edge, a token for it, and what the client
        needs to check and decrypt what the edge sends (the key goes to the client only)."""
        exp = self.d.now() + self.s.cdn_token_ttl_seconds
        return cm.CdnRedirect(
            edge_url=pick_edge(self.s.cdn_edges, f.id),
            file_id=f.id,
            token=(await self._signer()).sign(f.id, exp),
            expires=exp,
            key=f.enc_key.hex(),
            iv=f.enc_iv.hex(),
            size=f.size,
            mime_type=f.mime_type,
            part_size=filecrypt.PART_SIZE,
            part_hashes=f.part_hashes,
        )

    async def cdn_part(self, file_id: int, n: int, token: str) -> bytes:
        """An encrypted part as stored, for an edge (or a client whose edge lied)."""
        await self._signer()
        assert self._cdn_verifier is not None
        try:
            self._cdn_verifier.verify(token, file_id, self.d.now())
        except TokenError as e:
            if e.expired:
                raise Unauthorized("CDN_TOKEN_EXPIRED", str(e)) from None
            raise Forbidden("CDN_TOKEN_INVALID", str(e)) from None
        data = await self.blobs.get(file_key(file_id, n))
        if data is None:
            raise NotFound("CDN_PART_NOT_FOUND", "this file has no such part")
        # One line per part pulled by an edge: the origin-side record of CDN offload.
        log.info("cdn part served", file_id=file_id, n=n, bytes=len(data))
        return data

    async def check_signature(
        self, path: str, thumb: str | None, uid: int, exp: int, sig: str
    ) -> int:
        if exp < self.d.now():
            raise Unauthorized("URL_EXPIRED", "this link expired; ask for a new one")
        want = self._sign(await self._key(), uid, path + (f"?thumb={thumb}" if thumb else ""), exp)
        if not hmac.compare_digest(want, sig):
            raise Forbidden("URL_SIGNATURE_INVALID", "this link is not valid")
        return uid
