#include "reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/object.hpp>

#include "outcall/common/logging.h"
#include "outcall/common/strings.h"
#include "outcall/elevenlabs/event_mapping.h"

namespace outcall::call_gateway {

using common::Cat;

Reconciler::Reconciler(ReconcilerOptions options, CallStore& store,
                       const elevenlabs::ElevenLabsApi& api, CallPlacer& placer,
                       DataRequests& data_requests, GatewayMetrics& metrics, CallEventHub& hub)
    : options_(std::move(options)),
      store_(store),
      api_(api),
      placer_(placer),
      data_requests_(data_requests),
      metrics_(metrics),
      hub_(hub) {}

Reconciler::~Reconciler() { Stop(); }

absl::StatusOr<StatusChange> Reconciler::Reconcile(const CallRow& call, std::string_view cause) {
  // A call left "dialing" (its outbound answer never came): settled by looking it up.
  if (call.status == "dialing") return placer_.SettleDial(call, cause);
  // An open call past its maximum duration: ask ElevenLabs how it ended.
  auto conv = Timed(metrics_, "get_conversation",
                    [&] { return api_.GetConversation(call.conversation_id); });
  if (!conv.ok()) return conv.status();
  const auto* status = conv->if_contains("status");
  const std::string s = status && status->is_string() ? std::string(status->as_string()) : "";
  const StatusChange unchanged{call.conversation_id, call.call_id, call.status, call.status,
                               std::string(cause)};
  if (s == "done") {
    // Its post_call_transcription webhook was lost (or is late). The conversation carries the
    // same model as that webhook's data, so it goes through the same mapping and the same
    // transaction: transcript, analysis, cost, the appointment's answer, an opt-out. The
    // webhook, if it comes after all, is then a duplicate.
    auto ev = elevenlabs::MapConversation(call.conversation_id, *conv);
    if (!ev.ok()) return ev.status();
    std::vector<StatusChange> changes;
    auto applied = store_.ApplyEvent(*ev, changes);
    if (!applied.ok()) return applied.status();
    for (auto& ch : changes) ch.cause = std::string(cause);
    hub_.Publish(changes);
    return changes.empty() ? unchanged : changes.back();
  }
  std::string to;
  if (s == "failed")
    to = "failed";
  else if (s == "in-progress")
    to = "in_progress";
  // "processing": the call is over and ElevenLabs is still analysing it; the webhook (or the
  // next pass) brings the analysis with the transcript.
  if (to.empty()) return unchanged;
  auto ch = store_.AdvanceStatus(call.id, to, cause);
  if (ch.ok()) hub_.Publish(*ch);
  return ch;
}

absl::Status Reconciler::RunOnce() {
  const absl::Status calls = ReconcileCalls();
  const absl::Status audio = options_.save_call_audio ? RecoverAudio() : absl::OkStatus();
  const absl::Status retention = PurgeRetention();
  const absl::Status erasures = EraseRequested();
  for (const absl::Status* s : {&calls, &audio, &retention})
    if (!s->ok()) return *s;
  return erasures;
}

absl::Status Reconciler::EraseRequested() {
  auto pass = data_requests_.WorkErasures(options_.reconcile_batch);
  if (!pass.ok()) return pass.status();
  if (pass->erased + pass->failed > 0) {
    spdlog::info(
        "data requests: {} calls erased, {} not confirmed by ElevenLabs (retried), {} "
        "still live",
        pass->erased, pass->failed, pass->waiting);
  }
  return absl::OkStatus();
}

absl::Status Reconciler::PurgeRetention() {
  const absl::Time now = options_.clock->Now();
  if (now - last_retention_ < options_.retention_every) return absl::OkStatus();
  last_retention_ = now;
  RetentionPass total;
  // Batches until nothing is due (each its own transaction), bounded so one pass cannot run on.
  for (int i = 0; i < 20; ++i) {
    auto pass = store_.PurgeRetention(options_.retention_batch);
    if (!pass.ok()) return pass.status();
    total.calls += pass->calls;
    total.transcript_turns += pass->transcript_turns;
    total.recordings += pass->recordings;
    total.inbox_bodies += pass->inbox_bodies;
    if (pass->calls < options_.retention_batch) break;
  }
  if (total.calls > 0) {
    spdlog::info("retention: purged {} calls ({} transcript turns, {} recordings, {} inbox bodies)",
                 total.calls, total.transcript_turns, total.recordings, total.inbox_bodies);
  }
  return absl::OkStatus();
}

absl::Status Reconciler::ReconcileCalls() {
  auto calls = store_.CallsToReconcile(options_.dialing_grace_secs, options_.open_grace_secs,
                                       options_.reconcile_batch);
  if (!calls.ok()) return calls.status();
  for (const auto& c : *calls) {
    auto r = Reconcile(c, "reconciler");
    if (r.ok() && IsFinalStatus(r->status)) {
      if (auto s = store_.ForgetReconcileState(c.id); !s.ok()) {
        spdlog::warn("reconciler: state of call {} not cleared: {}", c.call_id,
                     common::ToStd(s.message()));
      }
      continue;
    }
    // Not settled (still unknown, still processing, or the try failed): the call backs off, and
    // the others are tried first next time.
    const bool not_found = !r.ok() && r.status().code() == absl::StatusCode::kNotFound;
    const std::string error =
        r.ok() ? std::string() : std::string(common::ToStd(r.status().message()));
    auto definite = store_.RecordReconcileTry(c.id, not_found, error, options_.reconcile_every,
                                              options_.reconcile_max_backoff);
    if (!definite.ok()) {
      spdlog::warn("reconciler: try of call {} not recorded: {}", c.call_id,
                   common::ToStd(definite.status().message()));
      continue;
    }
    if (not_found && *definite >= options_.reconcile_max_not_found) {
      // ElevenLabs keeps saying it does not know the conversation: a final state with the
      // reason, so the call stops blocking its patient ("already live") and the reconciler.
      const std::string why = Cat("ElevenLabs answered 404 for the conversation ", *definite,
                                  " times; the reconciler gave up");
      auto ch = store_.MarkFailed(c.id, {"reconciler", "not_found", 404, why}, "reconciler_gave_up",
                                  absl::OkStatus());
      if (ch.ok()) {
        hub_.Publish(*ch);
        (void)store_.ForgetReconcileState(c.id);
        metrics_.Call("reconciler_gave_up");
        spdlog::warn("reconciler: call {} failed: {}", c.call_id, why);
      }
    } else if (!r.ok()) {
      // Once per try of this call, and tries back off: no longer a line per call every pass.
      spdlog::warn("reconcile of call {} failed (try recorded, backing off): {}", c.call_id, error);
    }
  }
  return absl::OkStatus();
}

absl::Status Reconciler::RecoverAudio() {
  // Needs past their window are given up first (their last error is kept as the reason).
  auto stale = store_.GiveUpStaleAudioNeeds(options_.audio_max_age);
  if (!stale.ok()) return stale.status();
  for (const auto& n : *stale) {
    metrics_.Audio("expired");
    spdlog::warn("reconciler: recording of call {} ({}) given up: none fetched within {}",
                 n.call_id, n.conversation_id, absl::FormatDuration(options_.audio_max_age));
  }
  // Claimed until the slowest download of the batch could end: another replica passes them by.
  const absl::Duration lease =
      std::max(options_.reconcile_max_backoff, options_.audio_timeout * options_.audio_batch);
  auto due = store_.ClaimAudioNeeds(options_.audio_grace_secs, options_.audio_batch, lease);
  if (!due.ok()) return due.status();
  for (const auto& n : *due) {
    if (n.stored || n.erased) {
      // The webhook's recording came after all, or the patient's data was erased: nothing to
      // fetch (and nothing erased may come back).
      metrics_.Audio(n.stored ? "already_stored" : "erased");
      if (auto s = store_.ForgetAudioNeed(n.row); !s.ok()) {
        spdlog::warn("reconciler: recording need of call {} not cleared: {}", n.call_id,
                     common::ToStd(s.message()));
      }
      continue;
    }
    auto audio = Timed(metrics_, "get_conversation_audio", [&] {
      return api_.GetConversationAudio(n.conversation_id, options_.audio_max_bytes,
                                       options_.audio_timeout);
    });
    absl::Status failed = audio.status();
    elevenlabs::ProviderFailure f = audio.ok() ? elevenlabs::ProviderFailure{} : audio.failure();
    if (audio.ok()) {
      auto stored =
          store_.StoreRecoveredAudio(n.row, n.conversation_id, audio->content_type, audio->bytes);
      if (stored.ok()) {
        switch (*stored) {
          case CallStore::RecoveredAudio::kStored:
            metrics_.Audio("recovered");
            spdlog::info(
                "reconciler: recording of call {} ({}) recovered from ElevenLabs: {} "
                "bytes, {}",
                n.call_id, n.conversation_id, audio->bytes.size(), audio->content_type);
            break;
          case CallStore::RecoveredAudio::kAlreadyStored:
            metrics_.Audio("already_stored");
            break;
          case CallStore::RecoveredAudio::kErased:
            metrics_.Audio("erased");
            break;
        }
        continue;
      }
      failed = stored.status();
    }
    // Not stored: the call backs off. A 404 (ElevenLabs has no audio for it) or a recording over
    // the bound will not change: after reconcile_max_not_found of those the need is given up.
    const bool not_found = failed.code() == absl::StatusCode::kNotFound;
    const bool too_large = f.code == "too_large";
    const std::string error(common::ToStd(failed.message()));
    const ProviderErrorRecord record{
        "reconciler",
        not_found ? "audio_not_found" : (too_large ? "audio_too_large" : "audio_unavailable"),
        f.http_status, error};
    auto tried =
        store_.RecordAudioTry(n.row, not_found || too_large, record, options_.reconcile_every,
                              options_.reconcile_max_backoff, options_.reconcile_max_not_found);
    if (!tried.ok()) {
      spdlog::warn("reconciler: try of the recording of call {} not recorded: {}", n.call_id,
                   common::ToStd(tried.status().message()));
    } else if (tried->gave_up) {
      metrics_.Audio("gave_up");
      spdlog::warn("reconciler: recording of call {} ({}) given up after {} definite answers: {}",
                   n.call_id, n.conversation_id, tried->not_found, error);
    } else {
      metrics_.Audio("failed");
      // Once per try of this call, and tries back off.
      spdlog::warn("recording of call {} ({}) not recovered (try recorded, backing off): {}",
                   n.call_id, n.conversation_id, error);
    }
  }
  return absl::OkStatus();
}

void Reconciler::Start() {
  reconciler_ = std::thread([this] {
    absl::MutexLock lock(&reconciler_mu_);
    while (!reconciler_stop_) {
      reconciler_mu_.Unlock();
      if (auto s = RunOnce(); !s.ok()) spdlog::warn("reconciler: {}", common::ToStd(s.message()));
      reconciler_mu_.Lock();
      reconciler_mu_.AwaitWithTimeout(absl::Condition(&reconciler_stop_), options_.reconcile_every);
    }
  });
}

void Reconciler::Stop() {
  {
    absl::MutexLock lock(&reconciler_mu_);
    reconciler_stop_ = true;
  }
  if (reconciler_.joinable()) reconciler_.join();
}

}  // namespace outcall::call_gateway
