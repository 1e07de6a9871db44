#pragma once
// The data side of warp-level operations (shuffles, votes, __syncwarp):
// each participating lane deposits a value and the lane it reads from; once
// every lane named in the mask has arrived with the same operation and mask,
// all results are computed at once. The waiting itself is the runner's job
// (fibers or OS threads), this file only decides "complete / wait / error".
#include <cstdint>
#include <string>

namespace finepose::emu {

enum class WarpOpKind : std::uint8_t { sync, shfl, all, any, ballot };

inline const char* warp_op_name(WarpOpKind k) {
  switch (k) {
    case WarpOpKind::sync: return "__syncwarp";
    case WarpOpKind::shfl: return "__shfl*_sync";
    case WarpOpKind::all: return "__all_sync";
    case WarpOpKind::any: return "__any_sync";
    case WarpOpKind::ballot: return "__ballot_sync";
  }
  return "?";
}

struct WarpSlot {
  bool pending = false;
  WarpOpKind kind = WarpOpKind::sync;
  std::uint32_t mask = 0;
  int src = 0;                 // shuffle source lane (already resolved)
  std::uint64_t value = 0;     // the lane's contribution
  std::uint64_t result = 0;    // written when the group completes
  std::uint8_t parity = 0;     // __syncwarp count parity (TSan tokens, OS-thread mode)
};

struct WarpState {
  WarpSlot lane[32];
  std::uint32_t existing = 0;  // lanes that exist (blockDim may end mid-warp)
  std::uint32_t exited = 0;    // lanes whose thread has returned
};

enum class GroupStatus { complete, wait, error };

// Called after lane `me` deposited its slot. On `complete` the results are in
// the slots and their pending flags are cleared; `released` gets the other
// lanes that were waiting. On `error`, `why` says what is wrong.
inline GroupStatus try_complete_group(WarpState& w, int me, std::uint32_t& released, std::string& why) {
  const WarpSlot& mine = w.lane[me];
  const std::uint32_t mask = mine.mask;
  if ((mask >> me & 1u) == 0) {
    why = std::string(warp_op_name(mine.kind)) + ": the calling lane " + std::to_string(me) + " is not in its mask";
    return GroupStatus::error;
  }
  if (mask & ~w.existing) {
    why = std::string(warp_op_name(mine.kind)) + ": mask names lanes that do not exist (blockDim ends mid-warp)";
    return GroupStatus::error;
  }
  for (int l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    if (w.exited >> l & 1u) {
      why = std::string(warp_op_name(mine.kind)) + ": lane " + std::to_string(l) +
            " is named in the mask but has already exited";
      return GroupStatus::error;
    }
    const WarpSlot& s = w.lane[l];
    if (!s.pending) return GroupStatus::wait;
    if (s.mask != mask || s.kind != mine.kind) {
      why = std::string("warp divergence: lane ") + std::to_string(me) + " calls " + warp_op_name(mine.kind) +
            " while lane " + std::to_string(l) + " waits in " + warp_op_name(s.kind) + " with another mask";
      return GroupStatus::error;
    }
  }
  // everyone is here: compute
  std::uint64_t ballot = 0;
  for (int l = 0; l < 32; ++l)
    if ((mask >> l & 1u) && w.lane[l].value != 0) ballot |= 1ull << l;
  std::uint64_t parities = 0;  // __syncwarp: which token each lane released into
  for (int l = 0; l < 32; ++l)
    if ((mask >> l & 1u) && w.lane[l].parity) parities |= 1ull << l;
  released = 0;
  for (int l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    WarpSlot& s = w.lane[l];
    switch (s.kind) {
      case WarpOpKind::sync: s.result = parities; break;
      case WarpOpKind::shfl:
        // reading a lane outside the mask is undefined in CUDA; we return the
        // caller's own value (what hardware does for out-of-range sources)
        s.result = (mask >> s.src & 1u) ? w.lane[s.src].value : s.value;
        break;
      case WarpOpKind::all: s.result = (ballot == mask) ? 1 : 0; break;
      case WarpOpKind::any: s.result = ballot ? 1 : 0; break;
      case WarpOpKind::ballot: s.result = ballot; break;
    }
  }
  for (int l = 0; l < 32; ++l) {
    if (!(mask >> l & 1u)) continue;
    w.lane[l].pending = false;
    if (l != me) released |= 1u << l;
  }
  return GroupStatus::complete;
}

// An exited lane may be awaited by a group that can now never complete.
inline bool exit_breaks_group(const WarpState& w, int lane, std::string& why) {
  for (int l = 0; l < 32; ++l) {
    const WarpSlot& s = w.lane[l];
    if (s.pending && (s.mask >> lane & 1u)) {
      why = std::string(warp_op_name(s.kind)) + ": lane " + std::to_string(l) + " waits for lane " +
            std::to_string(lane) + ", which exited";
      return true;
    }
  }
  return false;
}

}  // namespace finepose::emu
