"""A synthetic two-organism genome with a planted long-range regulatory grammar.

The project's embedded default dataset: `make_synthetic_genome` (CLI
`enformer-synthetic`, `cli/synthetic.py`) writes, deterministically from a
seed, per organism

  {out_dir}/{organism}/genome.fa, genome.fa.fai   chromosomes chr1..chrK
  {out_dir}/{organism}/tracks/{track}.bw          one bigWig per track
  {out_dir}/{organism}/targets.txt                Basenji track table
  {out_dir}/{organism}/elements.bed               ground truth (BED6+)
  {out_dir}/{organism}/genes.gtf                  one gene per promoter (GTF)
  {out_dir}/{organism}/crispri_pairs.tsv          element-gene pairs labelled
                                                  from the truth (pairs.py)
  {out_dir}/spec.json                             the generating spec
  {out_dir}/human.mouse.chain, .net, homology.tsv with `homology` only:
                                                  the syntenic segments

`targets.txt` is tab-separated with the header `index identifier file clip
scale sum_stat description`; `file` is the ABSOLUTE path of the bigWig (the
directory is written next to its final place and renamed into it, so the paths
are valid once it exists; regenerate rather than move it).

Sequence. Random DNA whose GC fraction changes from segment to segment
(`gc_range`, "isochores" ~100 kb long), `N` runs at both chromosome ends and a
few internal gaps (`telomere_n`, `n_gaps_per_mb`). Exact copies of the motifs
below occur ONLY where an element is planted: chance occurrences (either
strand, of every motif of every organism) are mutated away, so the grammar is
exact.

Elements (motif centre = `start + len // 2`, i.e. `start + 7` for these
14-bp motifs; distances are between centres):
  promoter  one of three TATA-like variants (strong / medium / weak, 14 bp),
            either orientation; `promoters_per_mb` of them.
  enhancer  the organism's enhancer motif (AP-1+ETS-like in human,
            E-box+CCAAT-like in mouse) paired with one promoter, at a distance
            in `enhancer_distance` (default 10-40 kb), either side.
  decoy     the same enhancer motif paired with nothing: `near` decoys closer
            to a promoter than the range (`near_decoy_probability` per
            promoter), `far` decoys farther than the range from every promoter
            (`far_decoys_per_mb`).
The densities are targets: an element that cannot be placed under the rules
below is left out, so `elements.bed` is the truth. At the default distances
about 30 promoters per Mb saturate the rules (a warning says so); the default
20 per Mb are all placed, with ~0.12 near decoys per promoter.

The distal rule, exactly true in the written data: a promoter is ACTIVE iff an
enhancer motif lies at a distance within `enhancer_distance` of it. The
placement makes this unambiguous: with `distance_margin` M, no enhancer motif
lies within [dmin - M, dmax + M] of any promoter except its own partner, so
promoters never share enhancers, unpaired promoters have no enhancer motif in
range and the boundaries are not knife-edge. About `paired_probability` (1/2)
of the promoters are paired, chosen independently of their variant, strand and
local sequence. Therefore the distal tracks cannot be predicted from local
sequence: a promoter motif and its few hundred flanking bp look the same
whether or not the promoter is active, and the nearest enhancer-like motif
(a near decoy) may be a few kb away and still not count. The enhancer is
10-40 kb (80-310 bins) away, far beyond a conv tower's receptive field
(~650 bp for Enformer's), so only attention (or a model spanning the window)
can use it. A window shows a promoter's partner only if it holds both:
windows longer than 2 * dmax centred on promoters always do; tiled windows
do not near their edges (crop those bins, as Enformer's `crop_bp` does). On
the default genome a per-128-bp-bin predictor that knows every promoter and
its variant but not its enhancer reaches Pearson R ~0.74 on `cage_distal`;
one that also knows the pairing reaches ~0.998: the gap a long-range model
can close.

Tracks (per-base signal stored at `track_step`-bp resolution; Gaussian peaks
at motif centres, multiplicative log-normal noise `noise_sd` plus an
exponential background of mean `background` per bp; zero over `N`s):
  cage          every promoter, height 5 * strength(variant), sigma 120 bp
  cage_distal   every promoter, height 5 * strength * (distal_base +
                (1 - distal_base) * active): the DISTAL EFFECT
  dnase         every promoter (2.0) and every enhancer motif incl. decoys
                (3.0), sigma 200 bp: local
  h3k27ac       broad, sigma 600 bp: promoters 1.2 * strength, enhancer
                motifs 1.0: local
  gc            10 x the GC fraction of the surrounding 1,001 bp (`mean`
                sum_stat): broad, local, sequence composition
  human (4 tracks): cage_promoter (cage), cage_distal, dnase, gc;
    promoter strengths strong 1.0, medium 0.6, weak 0.3.
  mouse (3 tracks): cage_distal, dnase, h3k27ac, with its own enhancer motif
    and strengths strong 0.8, medium 1.0, weak 0.45, so the mouse head is a
    different task that also needs the distal rule.
Peak 128-bp bin sums are at most ~700 (`sum` tracks), within `clip` 1024.

Ground truth `elements.bed` (header line starts with `#`, read it with
`read_elements`): chrom, start, end (0-based, half-open motif), name
(P*/E*/D*; enhancer `E12` pairs with promoter `P12`), score (1000 *
strength), strand, kind, variant (promoter variant, `paired`, or decoy
`near`/`far`), strength, partner (`.` if none), distance (signed offset from
this element's centre to its partner's, or for decoys to the nearest
promoter's; `.` for unpaired promoters), motif (the planted sequence as read
on the + strand), local_tracks (tracks with a peak at the element) and
target_tracks (tracks an enhancer raises at its partner promoter).

Modules, in the order the generator uses them (`generate.py` runs them
organism by organism, chromosome by chromosome):
  spec.py      `SyntheticGenomeSpec` and its parts (`OrganismSpec`,
               `TrackSpec`), the motifs and kinds, the argument checks
  sequence.py  the background DNA; planting motifs, scrubbing chance copies
  layout.py    placing promoters, enhancers and decoys under the rules;
               turning the placement into `Element`s
  elements.py  `Element` and elements.bed (`read_elements`), the ground truth
  genes.py     genes.gtf: a gene per promoter, some with two TSSs, and
               `gene_truth`, each gene's planted strength and pairing
  pairs.py     crispri_pairs.tsv: each gene's candidate elements within a
               distance range, the partner enhancer labelled significant
  tracks.py    the signal of each track kind
  writers.py   FASTA (+ .fai), bigWigs, targets.txt
  homology.py  with `SyntheticGenomeSpec.homology` (off by default):
               syntenic segments of one organism copied into the other,
               and their chain, net and truth files
  generate.py  `make_synthetic_genome`: the steps above, the output directory

Where a new output goes: a file derived from the elements or sequences of
one organism (genes as a GTF, a CRISPRi pairs table) is a module of its own
(`genes.py`, `crispri.py`) with a `write_...(path, elements, ...)` called in
`generate._write_organism` beside `write_elements`, its path added to the
returned dict and its knobs to `SyntheticGenomeSpec` (checked in
`spec._validate_spec`). Something shared between organisms (homologous
blocks) is decided in `generate.make_synthetic_genome` before the organisms
are written, its parameters in the spec, and its table written there too,
beside spec.json.
"""
from enformer_tf.data.synthetic.elements import Element, read_elements
from enformer_tf.data.synthetic.generate import make_synthetic_genome
from enformer_tf.data.synthetic.genes import GeneTruth, gene_truth
from enformer_tf.data.synthetic.homology import (Piece, Segment,
                                                 read_homology_truth)
from enformer_tf.data.synthetic.sequence import motif_occurrences
from enformer_tf.data.synthetic.spec import (
    ELEMENT_KINDS, HUMAN_ENHANCER_MOTIF, MOUSE_ENHANCER_MOTIF,
    PROMOTER_MOTIFS, TRACK_KINDS, HomologySpec, OrganismSpec,
    SyntheticGenomeSpec, TrackSpec, chrom_sizes_from_total)
from enformer_tf.data.synthetic.tracks import GC_SCALE, GC_WINDOW
from enformer_tf.data.synthetic.writers import FASTA_LINE_WIDTH

__all__ = ['ELEMENT_KINDS', 'Element', 'FASTA_LINE_WIDTH', 'GC_SCALE',
           'GC_WINDOW', 'GeneTruth', 'HUMAN_ENHANCER_MOTIF', 'HomologySpec',
           'MOUSE_ENHANCER_MOTIF', 'OrganismSpec', 'PROMOTER_MOTIFS',
           'Piece', 'Segment', 'SyntheticGenomeSpec', 'TRACK_KINDS',
           'TrackSpec', 'chrom_sizes_from_total', 'gene_truth',
           'make_synthetic_genome', 'motif_occurrences', 'read_elements',
           'read_homology_truth']
