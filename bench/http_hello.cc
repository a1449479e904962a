// Hello-world load target for the HTTP layer: answers every request with a fixed ~2.4 KB FHIR
// Patient. Prints "listening on 127.0.0.1:<port>" once it accepts connections, runs until
// SIGINT/SIGTERM. Usage: http_hello_bench [port=0] [threads=2] [log=0] [gzip=1]
//   wrk -t2 -c64 -d10s --latency http://127.0.0.1:<port>/

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "api/http/server.h"

namespace {

std::string PatientJson() {
  std::string json =
      R"({"resourceType":"Patient","id":"example","meta":{"versionId":"3","lastUpdated":"2024-05-01T08:30:00+08:00","profile":["https://fhir.medalliance.cn/StructureDefinition/patient"]},)"
      R"("identifier":[{"system":"https://fhir.medalliance.cn/sid/resident-id","value":"440106199001011234"},{"system":"https://fhir.medalliance.cn/sid/mrn/gz-001","value":"MRN-000123"}],)"
      R"("active":true,"name":[{"use":"official","family":"Chalmers","given":["Peter","James"]},{"use":"usual","given":["Jim"]}],)"
      R"("telecom":[{"system":"phone","value":"+86 20 1234 5678","use":"home"},{"system":"phone","value":"+86 138 0000 0000","use":"mobile","rank":1}],)"
      R"("gender":"male","birthDate":"1974-12-25","address":[{"use":"home","type":"both","text":"Tianhe District, Guangzhou","line":["No. 1 Tianhe Road"],"city":"Guangzhou","district":"Tianhe","state":"Guangdong","postalCode":"510000","country":"CN","period":{"start":"1974-12-25"}}],)"
      R"("contact":[{"relationship":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0131","code":"N"}]}],"name":{"family":"du Marché","given":["Bénédicte"]},"telecom":[{"system":"phone","value":"+33 (237) 998327"}],"gender":"female","period":{"start":"2012"}}],)"
      R"("managingOrganization":{"reference":"Organization/gz-001","display":"Guangzhou First People's Hospital"},"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">)";
  while (json.size() < 2400) json += "Peter James Chalmers. ";
  json += R"(</div>"}})";
  return json;
}

}  // namespace

int main(int argc, char** argv) {
  namespace http = medalliance::api::http;
  http::ServerOptions options;
  options.port = static_cast<uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
  options.threads = argc > 2 ? std::atoi(argv[2]) : 2;
  options.log_requests = argc > 3 && std::atoi(argv[3]) != 0;
  options.gzip = argc <= 4 || std::atoi(argv[4]) != 0;

  const std::string body = PatientJson();
  http::Server server(options, [&body](http::Request&) {
    http::Response response;
    response.headers.Set("Content-Type", "application/fhir+json");
    response.body = body;
    return response;
  });

  // Block the stop signals before the io threads start so only sigwait() sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  medalliance::core::Status started = server.Start();
  if (!started.has_value()) {
    std::fprintf(stderr, "%s\n", started.error().GetMessage().c_str());
    return 1;
  }
  std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(server.GetPort()));
  std::fprintf(stderr, "body %zu bytes, %d threads\n", body.size(), options.threads);
  std::fflush(stdout);
  int received = 0;
  sigwait(&signals, &received);
  server.Stop();
  return 0;
}
