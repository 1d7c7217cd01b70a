"""Photos and files in the web client: uploaded in 512 KiB parts and shown in the other
browser (a photo by its thumbnail, full size on click, with the text typed before it as its
caption; a file dropped on the chat as a download chip); an upload cut off midway resumes
with the parts the server does not have."""

from __future__ import annotations

import io
import re
from pathlib import Path

from PIL import Image, ImageDraw
from playwright.sync_api import FilePayload, Page, Route, expect

from tests.server import ServerProcess
from tests.web.conftest import Browsing, api, sign_up
from tests.web.ui import Shots, open_chat, open_key, post_api, send_api

DROP_FILE = """([name, size]) => {
  const data = new Uint8Array(size).map((_, i) => i % 251);
  const dt = new DataTransfer();
  dt.items.add(new File([data], name, { type: 'application/octet-stream' }));
  const el = document.querySelector('.chat');
  for (const type of ['dragenter', 'dragover', 'drop']) {
    el.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }
}"""


def photo(width: int, height: int) -> bytes:
    """A PNG of mountains at dusk: something to look at in the screenshots."""
    img = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(img)
    for y in range(height):  # the sky, from deep blue to orange
        f = y / height
        draw.line(
            [(0, y), (width, y)], fill=(int(40 + 215 * f), int(70 + 90 * f), int(160 - 60 * f))
        )
    draw.ellipse((width * 0.62, height * 0.28, width * 0.74, height * 0.46), fill=(255, 221, 140))
    draw.polygon(
        [(0, height), (width * 0.3, height * 0.35), (width * 0.6, height)], fill=(70, 60, 90)
    )
    draw.polygon(
        [
            (width * 0.35, height),
            (width * 0.7, height * 0.5),
            (width, height * 0.8),
            (width, height),
        ],
        fill=(45, 40, 70),
    )
    draw.polygon(
        [
            (width * 0.27, height * 0.42),
            (width * 0.3, height * 0.35),
            (width * 0.33, height * 0.42),
        ],
        fill="white",
    )
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def wait_image(page: Page, selector: str, width: int) -> None:
    """Until the image has loaded, at the width expected (bounded by Playwright's timeout)."""
    page.wait_for_function(
        "([sel, w]) => { const i = document.querySelector(sel);"
        " return !!i && i.complete && i.naturalWidth === w; }",
        arg=[selector, width],
    )


def test_photo_and_file_reach_the_other_browser(
    server: ServerProcess, browsing: Browsing, shots: Shots
) -> None:
    ana = sign_up(server.url, "Ana", "Rostami")
    ben = sign_up(server.url, "Ben")
    chat = api(
        server.url,
        "channels.createChannel",
        {"title": "Trip photos", "broadcast": False},
        ana.token,
    )["chat"]
    api(
        server.url,
        "channels.inviteToChannel",
        {"channel": {"chat_id": chat["id"]}, "users": [ben.id]},
        ana.token,
    )
    post_api(server.url, ana, chat["id"], "From the top of Tochal 🏔️")
    key = f"c{chat['id']}"
    a = browsing.page(server.url, account=ana)
    b = browsing.page(server.url, account=ben)
    open_key(a, key)
    open_key(b, key)

    # A photo by the attach button: Ben gets its 320 px thumbnail through a signed URL.
    picked = FilePayload(name="tochal.png", mimeType="image/png", buffer=photo(1200, 800))
    a.locator(".chat input[type=file]").set_input_files(files=[picked])
    thumb = b.locator(".msg .photo img")
    expect(thumb).to_have_attribute("data-thumb", "m")
    expect(thumb).to_have_attribute("src", re.compile(r"/api/media/c/\d+/\d+\?.*sig=.*thumb=m"))
    wait_image(b, ".msg .photo img", 320)
    expect(a.locator(".msg[data-upload]")).to_have_count(0)
    wait_image(a, ".msg .photo img", 320)
    row = b.locator(f'.chat-row[data-chat="{key}"]')
    expect(row.locator(".chat-preview")).to_have_text("Ana Rostami: 📷 Photo")
    b.locator(".messages").focus()
    shots(b, "photo-message-en")

    # A click opens it full size (the 800 px version), Escape closes it.
    b.get_by_role("button", name="Open photo").click()
    viewer = b.locator("dialog.viewer")
    expect(viewer).to_be_visible()
    wait_image(b, "dialog.viewer .viewer-img", 800)
    b.keyboard.press("Escape")
    expect(viewer).to_have_count(0)

    # Text typed before attaching goes as the photo's caption, and the composer is cleared.
    # Both browsers show it under the photo (and the first photo, sent with nothing typed,
    # still has none).
    caption = "Sunset from the summit 🌄"
    box = a.locator(".chat .composer-input")
    box.fill(caption)
    sunset = FilePayload(name="sunset.png", mimeType="image/png", buffer=photo(900, 600))
    a.locator(".chat input[type=file]").set_input_files(files=[sunset])
    expect(box).to_have_value("")
    for page in (a, b):
        sent = page.locator(".msg[data-id]", has=page.locator(".photo"))
        expect(sent).to_have_count(2)
        expect(sent.last.locator(".bubble.has-photo .text .body")).to_have_text(caption)
        expect(sent.first.locator(".bubble")).to_have_class(re.compile(r"\bmedia-only\b"))
        expect(sent.first.locator(".text")).to_have_count(0)
    expect(a.locator(".msg[data-upload]")).to_have_count(0)
    expect(row.locator(".chat-preview")).to_have_text(f"Ana Rostami: 📷 Photo, {caption}")
    b.get_by_role("button", name="Open photo").last.click()
    expect(b.locator("dialog.viewer .viewer-caption")).to_have_text(caption)
    b.keyboard.press("Escape")
    expect(viewer).to_have_count(0)


def test_upload_resumes_after_a_drop(server: ServerProcess, browsing: Browsing) -> None:
    ana = sign_up(server.url, "Ana")
    ben = sign_up(server.url, "Ben")
    send_api(server.url, ana, ben, "the report, as promised:")
    a = browsing.page(server.url, account=ana)
    b = browsing.page(server.url, account=ben)
    open_chat(a, ben)
    open_chat(b, ana)

    # A file dropped on the chat goes as a document, in 512 KiB parts. The second part's
    # request is cut off: the client asks which parts the server holds
    # (upload.getUploadedParts) and sends only the missing ones.
    browsing.allowed.append(re.compile(r"net::ERR_FAILED"))
    parts: list[int] = []

    def cut_second(route: Route) -> None:
        m = re.search(r"/parts/(\d+)", route.request.url)
        assert m is not None
        parts.append(int(m.group(1)))
        if len(parts) == 2:
            route.abort()
        else:
            route.continue_()

    a.route("**/api/files/**", cut_second)
    size = 1200 * 1024  # three parts
    a.evaluate(DROP_FILE, ["report.bin", size])
    expect(a.locator(".drop-zone")).to_be_hidden()
    chip = b.locator(".msg .doc")
    expect(chip.locator(".doc-name")).to_have_text("report.bin")
    expect(chip.locator(".doc-size")).to_have_text("1.2 MB")
    assert parts == [0, 1, 1, 2]

    # ... and the file arrives whole.
    with b.expect_download() as download:
        chip.click()
    got = Path(download.value.path()).read_bytes()
    assert got == bytes(i % 251 for i in range(size))
