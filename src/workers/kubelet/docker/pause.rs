//! The sandbox image: each pod's network namespace is held by a container that only waits.
//! No registry is needed: the image is a single static x86-64 executable of nine instructions'
//! worth of machine code (`pause()` in a loop), written here and imported into Docker the first
//! time a kubelet needs it, so a machine with Docker and no images can run pods.

use bollard::Docker;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

/// The image every pod's sandbox runs.
pub const IMAGE: &str = "kubetrail.dev/pause:1";

/// Where the program is mapped; the usual base address of a static executable.
const BASE: u64 = 0x40_0000;
const ELF_HEADER: usize = 64;
const PROGRAM_HEADER: usize = 56;

/// `mov eax, 34 (pause); syscall; jmp back to the mov`: sleeps until a signal ends it.
const PAUSE_LOOP: [u8; 9] = [0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf7];

/// The pause executable: one ELF header, one loadable segment, the loop.
pub fn executable() -> Vec<u8> {
    let size = (ELF_HEADER + PROGRAM_HEADER + PAUSE_LOOP.len()) as u64;
    let mut elf = Vec::with_capacity(size as usize);
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    elf.extend_from_slice(&[0; 8]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // executable
    elf.extend_from_slice(&0x3eu16.to_le_bytes()); // x86-64
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&(BASE + (ELF_HEADER + PROGRAM_HEADER) as u64).to_le_bytes());
    elf.extend_from_slice(&(ELF_HEADER as u64).to_le_bytes()); // program headers
    elf.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    elf.extend_from_slice(&0u32.to_le_bytes());
    elf.extend_from_slice(&(ELF_HEADER as u16).to_le_bytes());
    elf.extend_from_slice(&(PROGRAM_HEADER as u16).to_le_bytes());
    elf.extend_from_slice(&1u16.to_le_bytes());
    elf.extend_from_slice(&[0; 6]);
    elf.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // read + execute
    elf.extend_from_slice(&0u64.to_le_bytes());
    elf.extend_from_slice(&BASE.to_le_bytes());
    elf.extend_from_slice(&BASE.to_le_bytes());
    elf.extend_from_slice(&size.to_le_bytes());
    elf.extend_from_slice(&size.to_le_bytes());
    elf.extend_from_slice(&0x1000u64.to_le_bytes());
    elf.extend_from_slice(&PAUSE_LOOP);
    elf
}

/// A root filesystem holding only `/pause`, as a tar archive.
fn root_filesystem() -> std::io::Result<Vec<u8>> {
    let program = executable();
    let mut archive = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(program.len() as u64);
    header.set_mode(0o755);
    header.set_cksum();
    archive.append_data(&mut header, "pause", program.as_slice())?;
    archive.into_inner()
}

/// Import the sandbox image unless Docker already has it.
pub async fn ensure_image(docker: &Docker) -> Result<(), String> {
    if docker.inspect_image(IMAGE).await.is_ok() {
        return Ok(());
    }
    if std::env::consts::ARCH != "x86_64" {
        return Err(format!(
            "the sandbox image {IMAGE} is built for x86_64 only; this machine is {}",
            std::env::consts::ARCH
        ));
    }
    let (repo, tag) = IMAGE.rsplit_once(':').unwrap_or((IMAGE, "latest"));
    let options = CreateImageOptionsBuilder::new()
        .from_src("-")
        .repo(repo)
        .tag(tag)
        .changes(vec![r#"ENTRYPOINT ["/pause"]"#.to_string()])
        .build();
    let root = root_filesystem().map_err(|e| format!("building {IMAGE}: {e}"))?;
    let mut progress =
        docker.create_image(Some(options), Some(bollard::body_full(root.into())), None);
    while let Some(step) = progress.next().await {
        step.map_err(|e| format!("importing {IMAGE}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_point_is_the_loop() {
        let elf = executable();
        assert_eq!(elf.len(), ELF_HEADER + PROGRAM_HEADER + PAUSE_LOOP.len());
        let entry = u64::from_le_bytes(elf[24..32].try_into().unwrap());
        assert_eq!((entry - BASE) as usize, ELF_HEADER + PROGRAM_HEADER);
        assert_eq!(&elf[ELF_HEADER + PROGRAM_HEADER..], &PAUSE_LOOP);
    }

    #[test]
    fn the_archive_holds_one_executable() {
        let bytes = root_filesystem().unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let entries: Vec<_> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(entries, vec![("pause".to_string(), 0o755)]);
    }
}
