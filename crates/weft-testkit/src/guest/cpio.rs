//! The "newc" cpio format the kernel unpacks an initramfs from
//! (Documentation/driver-api/early-userspace/buffer-format.rst). Written
//! here rather than by the `cpio` tool so the archive's content and order
//! are exactly what the builder says, with no tool to install.

use std::io::{self, Write};

/// What one archive member is.
pub(super) enum Member<'a> {
    Dir,
    File { data: &'a [u8], mode: u32 },
    Symlink { target: &'a str },
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

/// Writes members one after another; [`Writer::finish`] adds the trailer.
pub(super) struct Writer<W: Write> {
    out: W,
    next_inode: u32,
    written: u64,
}

impl<W: Write> Writer<W> {
    pub(super) fn new(out: W) -> Self {
        Self {
            out,
            next_inode: 1,
            written: 0,
        }
    }

    /// `path` is relative to the archive's root (no leading `/`); parents
    /// must have been written before.
    pub(super) fn member(&mut self, path: &str, member: &Member<'_>) -> io::Result<()> {
        let (mode, data): (u32, &[u8]) = match member {
            Member::Dir => (S_IFDIR | 0o755, &[]),
            Member::File { data, mode } => (S_IFREG | (mode & 0o7777), data),
            Member::Symlink { target } => (S_IFLNK | 0o777, target.as_bytes()),
        };
        let nlink = if matches!(member, Member::Dir) { 2 } else { 1 };
        let inode = self.next_inode;
        self.next_inode += 1;
        self.entry(inode, mode, nlink, path, data)
    }

    pub(super) fn finish(mut self) -> io::Result<W> {
        self.entry(0, 0, 1, "TRAILER!!!", &[])?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn entry(
        &mut self,
        inode: u32,
        mode: u32,
        nlink: u32,
        name: &str,
        data: &[u8],
    ) -> io::Result<()> {
        let size = u32::try_from(data.len())
            .map_err(|_| io::Error::other(format!("{name}: too large for cpio")))?;
        let name_size = name.len() as u32 + 1;
        // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor,
        // devminor, rdevmajor, rdevminor, namesize, check
        let header = format!(
            "070701{inode:08x}{mode:08x}{:08x}{:08x}{nlink:08x}{:08x}{size:08x}{:08x}{:08x}{:08x}{:08x}{name_size:08x}{:08x}",
            0, 0, 0, 0, 0, 0, 0, 0
        );
        self.write(header.as_bytes())?;
        self.write(name.as_bytes())?;
        self.write(&[0])?;
        self.pad()?;
        self.write(data)?;
        self.pad()
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Headers and data both start on 4-byte boundaries.
    fn pad(&mut self) -> io::Result<()> {
        let pad = (4 - (self.written % 4) as usize) % 4;
        self.write(&[0; 3][..pad])
    }
}

#[cfg(test)]
mod tests;
