// Photos and files in messages: the photo (its 320 px thumbnail, by a signed URL) that opens
// full size on click, files as download chips, and uploads on their way with progress.

import { errorText, fileSize, percent, t } from '../i18n.js';
import { h, icon, iconButton } from './dom.js';
import { toast } from './menu.js';

const PHOTO_BOX = 320;

/** The display size of a photo that fits a PHOTO_BOX square, keeping its shape. */
function fit(w, h_) {
  if (!w || !h_) return [PHOTO_BOX, PHOTO_BOX * 0.75];
  const scale = Math.min(1, PHOTO_BOX / Math.max(w, h_));
  return [Math.max(80, Math.round(w * scale)), Math.max(60, Math.round(h_ * scale))];
}

/** Give `img` the signed URL of the message's photo (or thumbnail), cached by the core. */
function load(client, key, msgId, thumb, img) {
  const peer = client.peerOf(key);
  const now = client.mediaUrls.peek(peer, msgId, thumb);
  if (now) {
    img.src = now;
    return;
  }
  client.mediaUrls.get(peer, msgId, thumb).then(
    (url) => {
      img.src = url;
    },
    () => img.classList.add('broken'),
  );
}

/** The photo of a message, at thumbnail size; a click opens it full size. */
export function photoView(client, key, m) {
  const media = m.media;
  const thumb = media.thumbs?.find((x) => x.type === 'm') ? 'm' : null;
  const size = thumb ? media.thumbs.find((x) => x.type === 'm') : media;
  const [w, hh] = fit(size.w ?? size.width, size.h ?? size.height);
  const img = h('img', { alt: m.text || t('photo'), width: w, height: hh, decoding: 'async' });
  img.dataset.thumb = thumb ?? 'full';
  load(client, key, m.id, thumb, img);
  return h(
    'button',
    {
      type: 'button',
      class: 'photo',
      'aria-label': t('openPhoto'),
      style: `--w: ${w}px; --h: ${hh}px`,
      onclick: () => openViewer(client, key, m),
    },
    img,
  );
}

/** A file as a chip: name, size, and a link that downloads it. */
export function documentView(client, key, m) {
  const media = m.media;
  const name = media.name || t('file');
  const link = h(
    'a',
    {
      class: 'doc',
      download: name,
      'aria-label': t('download', { name }),
      onclick: async (e) => {
        if (link.dataset.ready) return;
        e.preventDefault();
        try {
          link.href = await client.mediaUrls.get(client.peerOf(key), m.id);
          link.dataset.ready = '1';
          link.click();
        } catch (err) {
          toast(errorText(err));
        }
      },
    },
    h('span', { class: 'doc-icon' }, icon('download')),
    h(
      'span',
      { class: 'doc-text' },
      h('span', { class: 'doc-name', dir: 'auto', text: name }),
      h('span', { class: 'doc-size', text: fileSize(media.size) }),
    ),
  );
  const url = client.mediaUrls.peek(client.peerOf(key), m.id);
  if (url) {
    link.href = url;
    link.dataset.ready = '1';
  }
  return link;
}

export function mediaView(client, key, m) {
  return m.media.type === 'photo' ? photoView(client, key, m) : documentView(client, key, m);
}

/** A file on its way: the local preview (photos) or a chip, with progress and cancel. */
export function uploadView(up) {
  const failed = up.state === 'failed';
  const progress = h('progress', {
    class: 'upload-progress',
    max: 100,
    value: Math.round(up.progress * 100),
    'aria-label': t('uploading', { percent: percent(up.progress) }),
  });
  const cancel = iconButton('close', t('cancelUpload'), () => up.cancel(), {
    cls: 'upload-cancel',
  });
  let body;
  if (up.kind === 'photo' && up.preview) {
    // The preview's shape is known once it has loaded; kept on the upload, since this is
    // drawn again at every step of the progress.
    const [w, hh] = up.previewSize ?? fit(0, 0);
    const img = h('img', {
      alt: '',
      src: up.preview,
      class: 'upload-preview',
      width: w,
      height: hh,
    });
    if (!up.previewSize) {
      img.addEventListener('load', () => {
        const [fw, fh] = (up.previewSize = fit(img.naturalWidth, img.naturalHeight));
        img.width = fw;
        img.height = fh;
        img.parentElement?.style.setProperty('--w', `${fw}px`);
        img.parentElement?.style.setProperty('--h', `${fh}px`);
      });
    }
    body = h(
      'div',
      { class: 'photo uploading', style: `--w: ${w}px; --h: ${hh}px` },
      img,
      !failed && progress,
      cancel,
    );
  } else {
    body = h(
      'div',
      { class: 'doc uploading' },
      h('span', { class: 'doc-icon' }, cancel),
      h(
        'span',
        { class: 'doc-text' },
        h('span', { class: 'doc-name', dir: 'auto', text: up.file.name || t('file') }),
        h('span', {
          class: 'doc-size',
          text: `${fileSize(up.file.size * up.progress)} / ${fileSize(up.file.size)}`,
        }),
        !failed && progress,
      ),
    );
  }
  return body;
}

/** The photo full size over everything; Escape, the close button or a click closes it. */
export function openViewer(client, key, m) {
  const media = m.media;
  const big = media.thumbs?.find((x) => x.type === 'x') ? 'x' : null;
  const img = h('img', { class: 'viewer-img', alt: m.text || t('photo') });
  load(client, key, m.id, big, img);
  const download = h(
    'a',
    {
      class: 'icon-btn viewer-download',
      'aria-label': t('download', { name: media.name || t('photo') }),
      download: media.name || 'photo',
    },
    icon('download'),
  );
  client.mediaUrls.get(client.peerOf(key), m.id).then(
    (url) => {
      download.href = url;
    },
    () => {},
  );
  const dialog = h(
    'dialog',
    { class: 'viewer', 'aria-label': t('photo') },
    h(
      'div',
      { class: 'viewer-bar' },
      download,
      iconButton('close', t('close'), () => dialog.close()),
    ),
    h('div', { class: 'viewer-body' }, img),
    m.text && h('p', { class: 'viewer-caption', dir: 'auto', text: m.text }),
  );
  const restore = document.activeElement;
  dialog.addEventListener('click', (e) => {
    if (e.target === dialog || e.target.classList.contains('viewer-body')) dialog.close();
  });
  dialog.addEventListener('close', () => {
    dialog.remove();
    restore?.focus?.({ preventScroll: true });
  });
  document.body.append(dialog);
  dialog.showModal();
  dialog.querySelector('.viewer-bar .icon-btn:last-child')?.focus();
}
