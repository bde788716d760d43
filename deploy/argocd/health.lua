-- Argo CD health for cfgpu.io GpuInstance and SafeWorkload, read from status.conditions.
-- Install: see the README ("Argo CD"); Argo CD runs it with obj set to the live object.
local hs = { status = "Progressing", message = "Waiting for the operator" }
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local ready = nil
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    ready = condition
  end
end
if ready == nil then
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation then
  hs.message = "Waiting for the operator to observe generation " .. generation
  return hs
end
hs.message = ready.message or ready.reason or ""
if ready.status == "True" then
  hs.status = "Healthy"
  return hs
end
-- Reasons a person has to act on; every other False reason is a transition under way.
local degraded = {
  InvalidSpec = true, InsufficientBalance = true, Unauthorized = true, Forbidden = true,
  CredentialsError = true, AmbiguousInstance = true, AlreadyManaged = true,
  InstanceGone = true, InstanceFailed = true, WorkloadFailed = true, CannotResume = true,
  ImmutableAfterDispatch = true, ApiError = true, InstanceNotFound = true,
  InstanceExpired = true,
}
local suspended = { Paused = true, ObserveOnly = true, Suspended = true }
if degraded[ready.reason] then
  hs.status = "Degraded"
elseif suspended[ready.reason] then
  hs.status = "Suspended"
end
return hs
