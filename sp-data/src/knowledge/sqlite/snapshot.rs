//! The embedded store's in-memory parts — exact vectors, HNSW graphs, hit rows — saved in a
//! folder beside the database (`sp.db.kb-index/`), so an open reads them back instead of
//! rebuilding the graphs (minutes at a million vectors). A manifest names the files with
//! their lengths and CRC-32s and the journal position they reflect; it is replaced
//! atomically (written aside, synced, renamed), so a crash mid-save leaves the previous
//! snapshot whole. Anything that does not match — format, byte order, dimensions, graph
//! parameters, a length or checksum — discards the snapshot: SQLite is the durable truth.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use usearch::Index;

use super::hit_rows::HitRows;
use crate::knowledge::flat_index::FlatIndex;
use crate::knowledge::graph_index::{GraphIndex, GraphParams};
use crate::knowledge::snapshot_codec::{Decoder, Encoder};

const FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.json";
const BUFFER: usize = 1 << 20;

#[derive(Debug, Serialize, Deserialize)]
struct FileEntry {
    file: String,
    bytes: u64,
    crc32: u32,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    /// The database's `kb_index_identity` token.
    database: String,
    little_endian: bool,
    dimensions: usize,
    connectivity: usize,
    expansion_add: usize,
    /// The journal position (`kb_index_journal`) these files reflect.
    journal_seq: i64,
    vectors: FileEntry,
    rows: FileEntry,
    graphs: Vec<(String, FileEntry)>,
}

/// What a snapshot held.
pub(super) struct Loaded {
    pub(super) journal_seq: i64,
    pub(super) index: FlatIndex,
    pub(super) graph: GraphIndex,
    pub(super) hit_rows: HitRows,
}

/// The snapshot folder of the database at `db_path`.
pub(super) fn dir_for(db_path: &Path) -> PathBuf {
    let mut name = db_path.file_name().unwrap_or_default().to_os_string();
    name.push(".kb-index");
    db_path.with_file_name(name)
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

fn write_file(
    dir: &Path,
    name: String,
    fill: impl FnOnce(&mut Encoder<BufWriter<File>>) -> io::Result<()>,
) -> io::Result<FileEntry> {
    let file = File::create(dir.join(&name))?;
    let mut out = Encoder::new(BufWriter::with_capacity(BUFFER, file));
    fill(&mut out)?;
    let (writer, bytes, crc32) = out.finish();
    writer
        .into_inner()
        .map_err(|err| err.into_error())?
        .sync_all()?;
    Ok(FileEntry {
        file: name,
        bytes,
        crc32,
    })
}

/// The manifest names files of this folder only.
fn checked_name(entry: &FileEntry) -> io::Result<&str> {
    if entry.file.contains(['/', '\\']) || entry.file.starts_with('.') {
        return Err(invalid(format!(
            "`{}` is not a snapshot file name",
            entry.file
        )));
    }
    Ok(&entry.file)
}

fn read_file<T>(
    dir: &Path,
    entry: &FileEntry,
    parse: impl FnOnce(&mut Decoder<BufReader<File>>) -> io::Result<T>,
) -> io::Result<T> {
    // The manifest names files of this folder only.
    if entry.file.contains(['/', '\\']) || entry.file.starts_with('.') {
        return Err(invalid(format!(
            "`{}` is not a snapshot file name",
            entry.file
        )));
    }
    let file = File::open(dir.join(&entry.file))?;
    if file.metadata()?.len() != entry.bytes {
        return Err(invalid(format!("`{}` has the wrong length", entry.file)));
    }
    let mut input = Decoder::new(BufReader::with_capacity(BUFFER, file), entry.bytes);
    let value = parse(&mut input)?;
    input
        .finish(entry.crc32)
        .map_err(|err| invalid(format!("`{}`: {err}", entry.file)))?;
    Ok(value)
}

/// Where a snapshot belongs: the database (its identity token) and its journal position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Position {
    pub(super) database: String,
    pub(super) journal_seq: i64,
}

/// [`read_file`] for a file of many small values: read whole and checked in one pass, then
/// parsed.
fn read_whole_file<T>(
    dir: &Path,
    entry: &FileEntry,
    parse: impl FnOnce(&mut Decoder<&[u8]>) -> io::Result<T>,
) -> io::Result<T> {
    let bytes = fs::read(dir.join(checked_name(entry)?))?;
    if bytes.len() as u64 != entry.bytes {
        return Err(invalid(format!("`{}` has the wrong length", entry.file)));
    }
    let mut input = Decoder::checked(&bytes, entry.crc32)
        .map_err(|err| invalid(format!("`{}`: {err}", entry.file)))?;
    let value = parse(&mut input)?;
    input.finish(entry.crc32)?;
    Ok(value)
}

/// Saves the three parts as reflecting `position`, then removes older files.
pub(super) fn save(
    dir: &Path,
    position: &Position,
    params: GraphParams,
    index: &FlatIndex,
    graph: &GraphIndex,
    hit_rows: &HitRows,
    dimensions: usize,
) -> sp_core::Result<()> {
    let io_error = |err: io::Error| {
        sp_core::Error::internal(format!(
            "saving the vector index in {}: {err}",
            dir.display()
        ))
    };
    fs::create_dir_all(dir).map_err(io_error)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let tag = format!("{}-{nanos}", position.journal_seq);
    let vectors = write_file(dir, format!("vectors-{tag}.bin"), |out| index.write_to(out))
        .map_err(io_error)?;
    let rows = write_file(dir, format!("rows-{tag}.bin"), |out| hit_rows.write_to(out))
        .map_err(io_error)?;
    let mut graphs = Vec::new();
    graph.serialized(|namespace, bytes| {
        let name = format!("graph-{tag}-{}.bin", graphs.len());
        let entry = write_file(dir, name, |out| out.bytes(bytes)).map_err(io_error)?;
        graphs.push((namespace.to_string(), entry));
        Ok(())
    })?;
    let manifest = Manifest {
        format: FORMAT,
        database: position.database.clone(),
        little_endian: cfg!(target_endian = "little"),
        dimensions,
        connectivity: params.connectivity,
        expansion_add: params.expansion_add,
        journal_seq: position.journal_seq,
        vectors,
        rows,
        graphs,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(sp_core::Error::internal)?;
    let aside = dir.join(format!("{MANIFEST}.tmp"));
    let mut file = File::create(&aside).map_err(io_error)?;
    file.write_all(&text).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    fs::rename(&aside, dir.join(MANIFEST)).map_err(io_error)?;
    // The rename is durable once the folder is synced.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error)?;
    remove_unlisted(dir, &manifest);
    Ok(())
}

/// Removes files of `dir` the manifest does not name (earlier snapshots, a crashed save).
fn remove_unlisted(dir: &Path, manifest: &Manifest) {
    let mut listed = vec![
        manifest.vectors.file.as_str(),
        manifest.rows.file.as_str(),
        MANIFEST,
    ];
    listed.extend(manifest.graphs.iter().map(|(_, entry)| entry.file.as_str()));
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !listed.iter().any(|l| name.as_os_str() == *l) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Removes the snapshot (its manifest first, so a half-removed one is never read).
pub(super) fn discard(dir: &Path) {
    let _ = fs::remove_file(dir.join(MANIFEST));
    let _ = fs::remove_dir_all(dir);
}

/// The snapshot in `dir` for the database at `now` (its current journal position):
/// `Ok(None)` when there is none, `Err` (the reason) when there is one that must not be used.
pub(super) fn load(
    dir: &Path,
    now: &Position,
    dimensions: usize,
    params: GraphParams,
) -> Result<Option<Loaded>, String> {
    let text = match fs::read(dir.join(MANIFEST)) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("unreadable manifest: {err}")),
    };
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|err| format!("unreadable manifest: {err}"))?;
    if manifest.format != FORMAT || manifest.little_endian != cfg!(target_endian = "little") {
        return Err(format!("format {} from another build", manifest.format));
    }
    if manifest.database != now.database {
        return Err("saved beside another database".into());
    }
    if manifest.journal_seq > now.journal_seq {
        // The database is older than the snapshot: a backup restored under it.
        return Err(format!(
            "saved at journal position {}, the database is at {}",
            manifest.journal_seq, now.journal_seq
        ));
    }
    if manifest.dimensions != dimensions {
        return Err(format!(
            "{} dimensions, the store has {dimensions}",
            manifest.dimensions
        ));
    }
    if (manifest.connectivity, manifest.expansion_add)
        != (params.connectivity, params.expansion_add)
    {
        return Err("graphs built with other parameters".into());
    }
    // Three threads: the rows (many small strings), the vectors (one large read), the
    // graphs (checked, then loaded by usearch from their files).
    let (rows, vectors, graphs) = std::thread::scope(|scope| {
        let rows = scope.spawn(|| read_whole_file(dir, &manifest.rows, HitRows::read_from));
        let graphs = scope.spawn(|| load_graphs(dir, &manifest, dimensions, params));
        let vectors = read_file(dir, &manifest.vectors, |input| {
            FlatIndex::read_from(dimensions, input)
        });
        let panicked = |_| Err(invalid("reading the snapshot panicked"));
        let rows = rows.join().unwrap_or_else(panicked);
        let graphs = graphs
            .join()
            .unwrap_or_else(|_| Err(invalid("reading the snapshot panicked")));
        (rows, vectors, graphs)
    });
    let hit_rows = rows.map_err(|err| err.to_string())?;
    let index = vectors.map_err(|err| err.to_string())?;
    let graphs = graphs.map_err(|err| err.to_string())?;
    if hit_rows.len() != index.len() {
        return Err(format!(
            "{} hit rows for {} vectors",
            hit_rows.len(),
            index.len()
        ));
    }
    let graph = GraphIndex::restore(dimensions, params, graphs, index.owners())
        .map_err(|err| err.to_string())?;
    Ok(Some(Loaded {
        journal_seq: manifest.journal_seq,
        index,
        graph,
        hit_rows,
    }))
}

/// Each namespace's graph: its file's length and checksum checked by streaming it, then
/// loaded by usearch from the file (no copy of it in between).
fn load_graphs(
    dir: &Path,
    manifest: &Manifest,
    dimensions: usize,
    params: GraphParams,
) -> io::Result<Vec<(Arc<str>, Index)>> {
    let mut graphs = Vec::with_capacity(manifest.graphs.len());
    for (namespace, entry) in &manifest.graphs {
        read_file(dir, entry, |input| input.skip_to_end())?;
        let path = dir.join(&entry.file);
        let index = GraphIndex::load_graph(dimensions, params, &path.to_string_lossy())
            .map_err(|err| invalid(err.to_string()))?;
        graphs.push((Arc::from(namespace.as_str()), index));
    }
    Ok(graphs)
}
